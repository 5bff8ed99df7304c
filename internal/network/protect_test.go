package network

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestCheckAllowRefusesProtectedRanges(t *testing.T) {
	subnet := netip.MustParsePrefix("10.213.0.0/16")
	protected := append(Protected(subnet), Range{netip.MustParsePrefix("192.0.2.7/32"), "an address of this host"})
	for _, c := range []struct {
		cidr, want string // want: the range named, "" when allowed
	}{
		{"10.213.0.0/16", "10.213.0.0/16"},
		{"10.213.0.2/32", "10.213.0.0/16"},       // a gateway
		{"10.213.7.0/24", "10.213.0.0/16"},       // some other sandboxes
		{"127.0.0.1/32", "127.0.0.0/8"},          // loopback
		{"169.254.169.254/32", "169.254.0.0/16"}, // metadata
		{"0.0.0.0/32", "0.0.0.0/8"},
		{"192.0.2.7/32", "192.0.2.7/32"}, // the host's address
		{"0.0.0.0/0", ""},                // wider: opens the rest, not them
		{"10.0.0.0/8", ""},
		{"192.0.2.0/24", ""},
		{"8.8.8.8/32", ""},
		{"10.214.0.0/16", ""},
	} {
		err := CheckAllow("network.allowCIDRs", []string{"1.1.1.1/32", c.cidr}, protected)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s refused: %v", c.cidr, err)
			}
			continue
		}
		var fe *errdefs.FieldError
		if !errors.As(err, &fe) || fe.Field != "network.allowCIDRs" || !errors.Is(err, errdefs.ErrInvalidArgument) ||
			!strings.Contains(err.Error(), c.cidr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a network.allowCIDRs error naming %s", c.cidr, err, c.want)
		}
	}
}

func TestProtectedHoldsTheHost(t *testing.T) {
	got := map[netip.Prefix]bool{}
	for _, r := range Protected(netip.MustParsePrefix("10.99.0.0/16")) {
		got[r.Prefix] = true
	}
	for _, want := range []string{"10.99.0.0/16", "127.0.0.0/8", "169.254.0.0/16"} {
		if !got[netip.MustParsePrefix(want)] {
			t.Errorf("%s is not protected: %v", want, got)
		}
	}
	for _, a := range hostAddrs() {
		if !got[a] {
			t.Errorf("host address %s is not protected", a)
		}
	}
}

// TestRulesRejectProtectedBeforeAnyAllow: whatever a stored policy says,
// the chain rejects the protected ranges before it reads the allow list,
// and never accepts one of them explicitly.
func TestRulesRejectProtectedBeforeAnyAllow(t *testing.T) {
	m := &Manager{cfg: Config{Subnet: netip.MustParsePrefix("10.213.0.0/16")}}
	rules := m.sandboxRules("sbx_x", Policy{Internet: true, AllowCIDRs: []string{"10.213.0.0/16", "10.213.0.2/32", "127.0.0.0/8", "169.254.169.254/32", "1.1.1.0/24"}})
	firstAllow := -1
	rejected := map[string]int{}
	for i, r := range rules {
		switch {
		case strings.Contains(r, "--dst-type LOCAL -j "+chainReject):
			rejected["local"] = i
		case strings.HasSuffix(r, "-j "+chainReject) && strings.Contains(r, " -d "):
			rejected[strings.Fields(r[strings.Index(r, " -d "):])[1]] = i
		case strings.HasSuffix(r, "-j ACCEPT") && strings.Contains(r, " -d ") && !strings.Contains(r, "--dport 53"):
			if firstAllow < 0 {
				firstAllow = i
			}
		}
	}
	for _, p := range []string{"local", "10.213.0.0/16", "127.0.0.0/8", "169.254.0.0/16"} {
		i, ok := rejected[p]
		if !ok || firstAllow >= 0 && i > firstAllow {
			t.Errorf("%s rejected at %d (ok %v), first allow at %d:\n%s", p, i, ok, firstAllow, strings.Join(rules, "\n"))
		}
	}
	if !strings.HasSuffix(rules[len(rules)-1], "-j "+chainReject) {
		t.Errorf("an allow list does not end in a rejection: %s", rules[len(rules)-1])
	}
	if in := ingressRules("sbx_x"); len(in) != 1 || !strings.HasPrefix(in[0], "-A "+ingressChainName("sbx_x")+" ") || !strings.HasSuffix(in[0], "-j "+chainReject) {
		t.Errorf("ingress rules: %v", in)
	}
}
