package kube

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// linkLocal are the link-local ranges, the cloud metadata service's
// among them: protected on every cluster.
var linkLocal = []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10")}

// protectedRanges checks the operator's protected ranges and returns them
// in their canonical form.
func protectedRanges(cidrs []string) ([]string, error) {
	var out []string
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, errdefs.InvalidField("kube-protected-cidrs", "%q is not a CIDR", c)
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

// protected is every range no sandbox of d reaches.
func (d *Driver) protected() []netip.Prefix {
	out := slices.Clone(linkLocal)
	for _, c := range d.cfg.ProtectedCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// policyFor is the sandbox's NetworkPolicy. Egress: with internet
// access, everything but DenyCIDRs and the protected ranges; without,
// only AllowCIDRs, less the protected ranges inside them (an entry inside
// one is refused); DNS to the cluster's DNS pods either way. Ingress:
// only the agent's and boot's control ports. Whether it is enforced is
// the cluster's network plugin's business.
func (d *Driver) policyFor(k, id string, p runtime.NetworkPolicy) (*networkingv1.NetworkPolicy, error) {
	protected := d.protected()
	var egress []networkingv1.NetworkPolicyPeer
	if p.Internet {
		var v4, v6 []string
		add := func(c string) {
			pre, err := netip.ParsePrefix(c)
			switch {
			case err != nil:
			case pre.Addr().Is4() && !slices.Contains(v4, pre.Masked().String()):
				v4 = append(v4, pre.Masked().String())
			case pre.Addr().Is6() && !slices.Contains(v6, pre.Masked().String()):
				v6 = append(v6, pre.Masked().String())
			}
		}
		for _, c := range p.DenyCIDRs {
			if _, err := netip.ParsePrefix(c); err != nil {
				return nil, errdefs.InvalidField("network.denyCIDRs", "%q is not a CIDR", c)
			}
			add(c)
		}
		for _, r := range protected {
			add(r.String())
		}
		egress = append(egress,
			networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: v4}},
			networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: v6}})
	} else {
		for _, c := range p.AllowCIDRs {
			block, err := allowBlock(c, protected)
			if err != nil {
				return nil, err
			}
			egress = append(egress, networkingv1.NetworkPolicyPeer{IPBlock: block})
		}
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port, control, dns := intstr.FromInt32(int32(d.cfg.AgentPort)), intstr.FromInt32(int32(d.cfg.ControlPort)), intstr.FromInt32(53)
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: d.meta(k, id),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{labelSandbox: k}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}, {Protocol: &tcp, Port: &control}}}},
			// Names resolve through the cluster's DNS pods (the
			// conventional k8s-app=kube-dns in kube-system), which
			// the protected ranges would otherwise hide.
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}},
			}},
		},
	}
	if len(egress) > 0 {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: egress})
	}
	return np, nil
}

// allowBlock is the block an allowCIDRs entry opens: the entry less the
// protected ranges inside it. An entry inside a protected range is
// refused, as on one machine.
func allowBlock(c string, protected []netip.Prefix) (*networkingv1.IPBlock, error) {
	pre, err := netip.ParsePrefix(c)
	if err != nil {
		return nil, errdefs.InvalidField("network.allowCIDRs", "%q is not a CIDR", c)
	}
	pre = pre.Masked()
	block := &networkingv1.IPBlock{CIDR: pre.String()}
	for _, r := range protected {
		if r.Addr().Is4() != pre.Addr().Is4() {
			continue
		}
		if pre.Bits() >= r.Bits() && r.Contains(pre.Addr()) {
			return nil, errdefs.InvalidField("network.allowCIDRs", "%q lies in %s, which no sandbox may reach", c, r)
		}
		if r.Bits() > pre.Bits() && pre.Contains(r.Addr()) {
			block.Except = append(block.Except, r.String())
		}
	}
	return block, nil
}
