package kube

import (
	"errors"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

func TestKey(t *testing.T) {
	seen := map[string]string{}
	for _, id := range []string{"rt0123abcd", "abc", "Abc", "abc_", "a_b", "A-B", strings.Repeat("x", 64), strings.Repeat("x", 63) + "y", "_"} {
		k, err := key(id)
		if id == "_" {
			if err == nil {
				t.Errorf("key(%q) accepted", id)
			}
			continue
		}
		if err != nil {
			t.Fatalf("key(%q): %v", id, err)
		}
		if !plainKey.MatchString(k) && !(len(k) <= 50 && strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789-") == "") {
			t.Errorf("key(%q) = %q, not a DNS label", id, k)
		}
		if len(objectName(k)) > 63 {
			t.Errorf("key(%q) = %q: object name too long for a label", id, k)
		}
		if other, dup := seen[k]; dup {
			t.Errorf("ids %q and %q share key %q", id, other, k)
		}
		seen[k] = id
	}
	if k, _ := key("rt0123abcd"); k != "rt0123abcd" {
		t.Errorf("a plain id is its own key: %q", k)
	}
}

func TestPolicy(t *testing.T) {
	d, _ := New(Config{Client: nil})
	if d != nil {
		t.Fatal("New without a client")
	}
	d = &Driver{cfg: Config{Namespace: "ns", AgentPort: 7311, ControlPort: 7312}}
	off, err := d.policyFor("k", "id", runtime.NetworkPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if len(off.Spec.Egress) != 1 || len(off.Spec.Egress[0].Ports) != 2 || off.Spec.Egress[0].Ports[0].Port.IntValue() != 53 || len(off.Spec.PolicyTypes) != 2 {
		t.Errorf("no internet: egress %v, types %v; want only DNS under both types", off.Spec.Egress, off.Spec.PolicyTypes)
	}
	if off.Spec.PodSelector.MatchLabels[labelSandbox] != "k" || off.Annotations[annotationID] != "id" {
		t.Errorf("selector %v, annotations %v", off.Spec.PodSelector, off.Annotations)
	}
	if in := off.Spec.Ingress; len(in) != 1 || len(in[0].Ports) != 2 || in[0].Ports[0].Port.IntValue() != 7311 || in[0].Ports[1].Port.IntValue() != 7312 {
		t.Errorf("ingress %+v: want the agent's and the control port only", in)
	}
	allow, _ := d.policyFor("k", "id", runtime.NetworkPolicy{AllowCIDRs: []string{"10.1.0.0/16"}})
	if peers := peers(allow); len(peers) != 1 || peers[0].IPBlock.CIDR != "10.1.0.0/16" || len(peers[0].IPBlock.Except) != 0 {
		t.Errorf("allow list: %+v", peers)
	}
	deny, _ := d.policyFor("k", "id", runtime.NetworkPolicy{Internet: true, DenyCIDRs: []string{"10.9.0.0/16", "fd00::/8"}})
	got := peers(deny)
	if len(got) != 2 || got[0].IPBlock.CIDR != "0.0.0.0/0" || !slices.Equal(got[0].IPBlock.Except, []string{"10.9.0.0/16", "169.254.0.0/16"}) ||
		got[1].IPBlock.CIDR != "::/0" || !slices.Equal(got[1].IPBlock.Except, []string{"fd00::/8", "fe80::/10"}) {
		t.Errorf("internet with a deny list: %+v", got)
	}
}

// TestPolicyProtectedRanges checks that no policy opens a protected
// range: link-local always, and the operator's (the cluster's own
// ranges): internet access excepts them, an allowed range wider than one
// excepts it, and one inside is refused as a bad field.
func TestPolicyProtectedRanges(t *testing.T) {
	protected, err := protectedRanges([]string{"10.42.0.0/16", "10.43.7.1/16"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protectedRanges([]string{"10.42.0.0"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a protected range that is no CIDR: %v", err)
	}
	d := &Driver{cfg: Config{Namespace: "ns", AgentPort: 7311, ControlPort: 7312, ProtectedCIDRs: protected}}
	open, err := d.policyFor("k", "id", runtime.NetworkPolicy{Internet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := peers(open); !slices.Equal(got[0].IPBlock.Except, []string{"169.254.0.0/16", "10.42.0.0/16", "10.43.0.0/16"}) {
		t.Errorf("internet access excepts %v", got[0].IPBlock.Except)
	}
	wide, err := d.policyFor("k", "id", runtime.NetworkPolicy{AllowCIDRs: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := peers(wide); len(got) != 1 || !slices.Equal(got[0].IPBlock.Except, []string{"10.42.0.0/16", "10.43.0.0/16"}) {
		t.Errorf("10.0.0.0/8 allowed as %+v", got)
	}
	for _, inside := range []string{"10.42.3.0/24", "169.254.169.254/32", "10.43.0.0/16"} {
		if _, err := d.policyFor("k", "id", runtime.NetworkPolicy{AllowCIDRs: []string{inside}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("allow %s: %v, want a bad field", inside, err)
		}
	}
}

// peers are the policy's egress peers after its DNS rule.
func peers(np *networkingv1.NetworkPolicy) []networkingv1.NetworkPolicyPeer {
	if len(np.Spec.Egress) < 2 {
		return nil
	}
	return np.Spec.Egress[1].To
}

// TestControlPort checks that the driver finds the control port in the
// pod it makes, and none in a pod booted without one.
func TestControlPort(t *testing.T) {
	d := &Driver{cfg: Config{Namespace: "ns", AgentPort: 7311, ControlPort: 7399}}
	pod := d.podFor("k", runtime.Spec{ID: "id", Image: "img", Entrypoint: []string{"sh", "--control-port", "1"}}, "t", newClaim("k"), false)
	if got := controlPort(pod); got != 7399 {
		t.Errorf("control port %d, want 7399", got)
	}
	for i, c := range pod.Spec.Containers {
		if c.Name == containerSandbox {
			pod.Spec.Containers[i].Command = []string{"/.hutch/hutch", "kube", "boot", "/c", "--", "--control-port", "1"}
		}
	}
	if got := controlPort(pod); got != 0 {
		t.Errorf("control port of an older pod %d, want 0", got)
	}
}

// TestPodImage: a sandbox asking for a named image runs the reference
// the configuration gives it, in its seed and sandbox containers; any
// other name is a reference as it is.
func TestPodImage(t *testing.T) {
	d := &Driver{cfg: Config{Namespace: "ns", AgentImage: "agent:1", Images: map[string]string{"python": "reg/py:3"}}}
	for name, want := range map[string]string{"python": "reg/py:3", "reg/other:2": "reg/other:2"} {
		pod := d.podFor("k", runtime.Spec{ID: "id", Image: name}, "t", newClaim("k"), false)
		got := map[string]string{}
		for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			got[c.Name] = c.Image
		}
		if got[containerSeed] != want || got[containerSandbox] != want || got[containerInstall] != "agent:1" {
			t.Errorf("image %q: containers run %v, want %q (and the agent image)", name, got, want)
		}
	}
}
