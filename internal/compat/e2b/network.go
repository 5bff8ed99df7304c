package e2b

import (
	"encoding/json"
	"net/netip"
	"slices"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// allTraffic is E2B's "every destination" entry.
const allTraffic = "0.0.0.0/0"

// networkConfig is E2B's SandboxNetworkConfig as a create sends it.
type networkConfig struct {
	AllowPublicTraffic *bool                      `json:"allowPublicTraffic"`
	AllowOut           []string                   `json:"allowOut"`
	DenyOut            []string                   `json:"denyOut"`
	EgressProxy        json.RawMessage            `json:"egressProxy"`
	MaskRequestHost    string                     `json:"maskRequestHost"`
	Rules              map[string]json.RawMessage `json:"rules"`
	HTTPSPorts         []int                      `json:"httpsPorts"`
}

// egress turns E2B's egress lists into Hutch's. In E2B an allowed entry
// wins over a denied one; in Hutch a denied one wins, and allowCIDRs
// reject everything else. The forms that mean the same in both are
// served: denyOut alone; denyOut with 0.0.0.0/0 plus allowOut (only
// those); allowOut alone (everything, as in E2B). Domain names (Hutch
// filters addresses only), an allowOut that carves holes in a partial
// denyOut, and the egress proxy, host mask, per-host transform rules and
// HTTPS ports are refused naming the field, not silently dropped.
// allowPublicTraffic is accepted: Hutch's port proxy asks for an API key
// or a signed URL unless a port is made public through the native API.
func (n *networkConfig) egress() (allow, deny []string, err error) {
	if n == nil {
		return nil, nil, nil
	}
	switch {
	case len(n.EgressProxy) > 0 && string(n.EgressProxy) != "null":
		return nil, nil, errdefs.InvalidField("network.egressProxy", "egress proxies are not supported by this server")
	case n.MaskRequestHost != "":
		return nil, nil, errdefs.InvalidField("network.maskRequestHost", "host masks are not supported by this server")
	case len(n.Rules) > 0:
		return nil, nil, errdefs.InvalidField("network.rules", "egress transform rules are not supported by this server")
	case len(n.HTTPSPorts) > 0:
		return nil, nil, errdefs.InvalidField("network.httpsPorts", "HTTPS upstream ports are not supported by this server")
	}
	allowOut, err := cidrs("network.allowOut", n.AllowOut)
	if err != nil {
		return nil, nil, err
	}
	denyOut, err := cidrs("network.denyOut", n.DenyOut)
	if err != nil {
		return nil, nil, err
	}
	denyAll := slices.Contains(denyOut, allTraffic)
	switch {
	case denyAll && len(allowOut) > 0:
		// Other denials only matter in E2B where no allowance overrides
		// them, which under a total denial is nowhere.
		return allowOut, nil, nil
	case denyAll:
		return nil, []string{allTraffic}, nil
	case len(denyOut) > 0 && len(allowOut) > 0:
		return nil, nil, errdefs.InvalidField("network.allowOut", "exceptions to a partial denyOut are not supported; deny %s and list what to allow", allTraffic)
	case len(denyOut) > 0:
		return nil, denyOut, nil
	}
	return nil, nil, nil // allowOut alone: E2B allows everything anyway
}

// cidrs normalises E2B's address entries (CIDR blocks or bare IPv4
// addresses) to CIDR blocks.
func cidrs(field string, entries []string) ([]string, error) {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if p, err := netip.ParsePrefix(e); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked().String())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil && a.Is4() {
			out = append(out, netip.PrefixFrom(a, 32).String())
			continue
		}
		return nil, errdefs.InvalidField(field, "%q is not an IPv4 address or CIDR block (domain names are not supported by this server)", e)
	}
	return out, nil
}

// networkOf is a sandbox's egress policy in E2B's words, nil when it has
// none.
func networkOf(n sandbox.Network) *networkJSON {
	switch {
	case len(n.AllowCIDRs) > 0:
		return &networkJSON{AllowOut: n.AllowCIDRs, DenyOut: append([]string{allTraffic}, n.DenyCIDRs...)}
	case len(n.DenyCIDRs) > 0:
		return &networkJSON{DenyOut: n.DenyCIDRs}
	}
	return nil
}
