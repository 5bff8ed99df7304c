package network

import (
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Protected ranges are what no sandbox reaches, whatever its policy says:
// other sandboxes and their gateways (the sandbox subnet), the host itself
// (each of its addresses, so every port it listens on, the API among
// them), loopback, and link-local with the cloud metadata service. A
// policy cannot open them: allowCIDRs inside one is refused when it is
// set (CheckAllow), and the firewall rejects them before it reads the
// allow list, so a policy stored before that check (or written to the
// driver directly) opens nothing either. There is no override: a sandbox
// that needs a service of the host or of another sandbox reaches it
// through an address outside these ranges, or through the port proxy.
//
// The firewall checks the host's addresses by kind (iptables' addrtype
// LOCAL), so an address the host gains later is covered at once.

var (
	loopbackRange  = netip.MustParsePrefix("127.0.0.0/8")
	thisHostRange  = netip.MustParsePrefix("0.0.0.0/8") // "this network": the host itself as a source
	linkLocalRange = metadataRange
)

// Range is one protected range and what it is, for messages.
type Range struct {
	Prefix netip.Prefix
	What   string
}

// Protected lists the protected ranges of a server whose sandboxes take
// their addresses from subnet, with the host's addresses as they are now.
func Protected(subnet netip.Prefix) []Range {
	out := []Range{
		{subnet.Masked(), "the sandbox subnet (other sandboxes and their gateways)"},
		{loopbackRange, "loopback"},
		{linkLocalRange, "link-local (the cloud metadata service)"},
		{thisHostRange, "this host"},
	}
	for _, a := range hostAddrs() {
		out = append(out, Range{a, "an address of this host"})
	}
	return out
}

// CheckAllow refuses every entry of allow (the field named field) that
// lies inside a protected range: the firewall would never let it
// through, so a policy asking for it is a mistake or an attempt, and is
// answered as one. An entry wider than a protected range (0.0.0.0/0,
// 10.0.0.0/8) is fine: it opens what it holds outside them. Entries that
// are not IPv4 CIDRs are ParsePolicy's to refuse.
func CheckAllow(field string, allow []string, protected []Range) error {
	for _, c := range allow {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() {
			continue
		}
		for _, r := range protected {
			if p.Bits() >= r.Prefix.Bits() && r.Prefix.Contains(p.Addr()) {
				return errdefs.InvalidField(field, "%q lies in %s, %s, which no sandbox may reach", c, r.Prefix, r.What)
			}
		}
	}
	return nil
}

// hostAddrs are the host's own IPv4 addresses as /32s.
func hostAddrs() []netip.Prefix {
	list, _ := netlink.AddrList(nil, netlink.FAMILY_V4)
	var out []netip.Prefix
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok {
			out = append(out, netip.PrefixFrom(ip, 32))
		}
	}
	return out
}
