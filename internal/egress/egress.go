// Package egress guards the connections the server itself opens to an
// address a tenant chose: webhook deliveries and image pulls. Without it a
// tenant's URL makes the server reach what only the host can (its loopback
// services, a cloud metadata endpoint, other sandboxes, the private
// network behind it) and read the answer back.
//
// The check runs in the dialer's Control hook, after DNS and on every
// connection, so a name that resolves inward, a DNS answer that changes
// between check and use, and a redirect all meet it. It is not the
// sandboxes' own egress policy, which internal/network enforces.
package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Flag is the setting a refusal points the platform admin to.
const Flag = "--egress-allow"

// Policy is what a Guard lets through besides public addresses.
type Policy struct {
	// Allow holds the platform admin's exceptions: CIDRs, single
	// addresses, or host names (matched exactly, case-insensitively,
	// before resolution: every address such a name resolves to is let
	// through).
	Allow []string
	// Sandboxes is the sandbox subnet, refused unless allowed.
	Sandboxes netip.Prefix
}

// Guard refuses connections to internal addresses. A nil *Guard refuses
// them too, with no exceptions: forgetting to configure one is safe.
type Guard struct {
	nets      []netip.Prefix
	hosts     map[string]bool
	sandboxes netip.Prefix
	// hostAddrs lists this host's own addresses, read at each check
	// because interfaces come and go.
	hostAddrs func() []netip.Addr
}

// New validates p and returns its guard.
func New(p Policy) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}, sandboxes: p.Sandboxes, hostAddrs: interfaceAddrs}
	for _, a := range p.Allow {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
		case strings.Contains(a, "/"):
			pf, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("%s %q: not a CIDR such as 10.0.0.0/8", Flag, a)
			}
			g.nets = append(g.nets, pf.Masked())
		default:
			if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
				g.nets = append(g.nets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				continue
			}
			if !validHost(a) {
				return nil, fmt.Errorf("%s %q: not a CIDR, an address or a host name", Flag, a)
			}
			g.hosts[strings.ToLower(strings.TrimSuffix(a, "."))] = true
		}
	}
	return g, nil
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func (g *Guard) orDefault() *Guard {
	if g == nil {
		return &Guard{hostAddrs: interfaceAddrs}
	}
	return g
}

// RefusedError is a connection the guard would not open. It matches
// errdefs.ErrForbidden: the target is well-formed, the server's policy
// says no.
type RefusedError struct {
	Purpose string     // "webhook target", "image registry"
	Host    string     // as the tenant wrote it
	Addr    netip.Addr // the address refused
	Reason  string     // "a loopback address"
}

func (e *RefusedError) Error() string {
	// A name's address is left out: it would tell a tenant what an
	// internal name resolves to.
	if e.Host == "" || e.Host == e.Addr.String() {
		return fmt.Sprintf("%s %s is %s; the platform admin can allow it with %s", e.Purpose, e.Addr, e.Reason, Flag)
	}
	return fmt.Sprintf("%s %s resolves to %s; the platform admin can allow it with %s", e.Purpose, e.Host, e.Reason, Flag)
}

// Unwrap makes a refusal match errdefs.ErrForbidden.
func (e *RefusedError) Unwrap() error { return errdefs.ErrForbidden }

// Check refuses ip unless it is a public address or allowed. host is what
// the tenant wrote, for the message ("" when it was ip itself).
func (g *Guard) Check(purpose, host string, ip netip.Addr) error {
	g = g.orDefault()
	ip = ip.Unmap().WithZone("")
	if host != "" && g.hosts[canonicalHost(host)] {
		return nil
	}
	for _, p := range g.nets {
		if p.Contains(ip) {
			return nil
		}
	}
	reason := g.classify(ip)
	if reason == "" {
		return nil
	}
	return &RefusedError{Purpose: purpose, Host: host, Addr: ip, Reason: reason}
}

func canonicalHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

// DialContext returns a dial function for http.Transport and the like
// that checks every address it connects to.
func (g *Guard) DialContext(purpose string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	g = g.orDefault()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if g.hosts[canonicalHost(host)] {
			return (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, network, addr)
		}
		shown := host
		if ip, err := netip.ParseAddr(host); err == nil {
			shown = ip.Unmap().String()
		}
		d := &net.Dialer{
			Timeout: 30 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return fmt.Errorf("%s %s: unexpected address %q", purpose, host, address)
				}
				return g.Check(purpose, shown, ap.Addr())
			},
		}
		return d.DialContext(ctx, network, addr)
	}
}

// Transport returns an HTTP transport whose every connection, redirects'
// included, goes through the guard. It uses no proxy from the
// environment: a proxy would make the connection the guard cannot see.
func (g *Guard) Transport(purpose string) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = g.DialContext(purpose)
	return t
}
