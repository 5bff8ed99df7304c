package egress

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Ranges refused besides what netip classifies, with the reason each
// gives. The list follows the IANA special-purpose registries: nothing in
// it is a public host a webhook or a registry could live on.
var reserved = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a reserved address"},            // "this network"
	{netip.MustParsePrefix("100.64.0.0/10"), "a private (CGNAT) address"}, // shared address space
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},         // IETF protocol assignments
	{netip.MustParsePrefix("198.18.0.0/15"), "a reserved address"},        // benchmarking, often used inside networks
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},          // and the broadcast address
	{netip.MustParsePrefix("100::/64"), "a reserved address"},             // discard
	{netip.MustParsePrefix("fec0::/10"), "a private address"},             // deprecated site-local
}

// embeddedV4 are IPv6 ranges that carry an IPv4 address a gateway may
// turn into an IPv4 connection; the IPv4 address inside is checked too.
var embeddedV4 = []netip.Prefix{
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64
	netip.MustParsePrefix("2002::/16"),    // 6to4 (the IPv4 address in bits 16-47)
}

// classify says why ip is internal, or "" when it is a public address.
func (g *Guard) classify(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "not an address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case g.sandboxes.IsValid() && g.sandboxes.Contains(ip):
		return "an address in the sandbox subnet"
	}
	for _, a := range g.hostAddrs() {
		if a == ip {
			return "an address of this host"
		}
	}
	if ip.IsPrivate() {
		return "a private address"
	}
	for _, r := range reserved {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	if ip.Is6() {
		b := ip.As16()
		for _, p := range embeddedV4 {
			if !p.Contains(ip) {
				continue
			}
			var v4 netip.Addr
			if p.Bits() == 96 {
				v4 = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
			} else {
				v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
			}
			if r := g.classify(v4); r != "" {
				return r
			}
		}
	}
	return ""
}

func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// CheckURL refuses, before anything is dialled, a URL whose host is an
// address the guard would refuse: an IP literal in any form a resolver
// accepts (127.0.0.1, [::1], 0x7f000001, 2130706433, 0177.1) or a name
// that is loopback by definition (localhost, *.localhost, RFC 6761).
// Other names pass: only the dial knows what they resolve to.
func (g *Guard) CheckURL(purpose string, u *url.URL) error {
	host := u.Hostname()
	if ip, ok := ParseLiteral(host); ok {
		return g.Check(purpose, "", ip)
	}
	h := canonicalHost(host)
	if (h == "localhost" || strings.HasSuffix(h, ".localhost")) && !g.orDefault().hosts[h] {
		return g.Check(purpose, host, netip.MustParseAddr("127.0.0.1"))
	}
	return nil
}

// ParseLiteral reads host as an IP address the way resolvers do,
// including the inet_aton forms Go's parser refuses (one to four parts,
// each decimal, octal with a leading 0, or hex with 0x), so that
// 0x7f000001 is seen as the 127.0.0.1 a C resolver would dial.
func ParseLiteral(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().WithZone(""), true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 || host == "" {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		n, ok := parseAtonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	// The last part fills the bytes the others leave.
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 0xff {
			return netip.Addr{}, false
		}
		v |= n << (24 - 8*i)
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseAtonPart(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := 10
	switch {
	case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // "0x" alone is 0 to inet_aton
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}
