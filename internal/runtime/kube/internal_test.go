package kube

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

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
	if len(off.Spec.Egress) != 0 || len(off.Spec.PolicyTypes) != 2 {
		t.Errorf("no internet: egress %v, types %v; want no egress rule under both types", off.Spec.Egress, off.Spec.PolicyTypes)
	}
	if off.Spec.PodSelector.MatchLabels[labelSandbox] != "k" || off.Annotations[annotationID] != "id" {
		t.Errorf("selector %v, annotations %v", off.Spec.PodSelector, off.Annotations)
	}
	if in := off.Spec.Ingress; len(in) != 1 || len(in[0].Ports) != 2 || in[0].Ports[0].Port.IntValue() != 7311 || in[0].Ports[1].Port.IntValue() != 7312 {
		t.Errorf("ingress %+v: want the agent's and the control port only", in)
	}
	allow, _ := d.policyFor("k", "id", runtime.NetworkPolicy{AllowCIDRs: []string{"10.1.0.0/16"}})
	if peers := peers(allow); len(peers) != 1 || peers[0].IPBlock.CIDR != "10.1.0.0/16" {
		t.Errorf("allow list: %+v", peers)
	}
	deny, _ := d.policyFor("k", "id", runtime.NetworkPolicy{Internet: true, DenyCIDRs: []string{"169.254.0.0/16", "fd00::/8"}})
	got := peers(deny)
	if len(got) != 2 || got[0].IPBlock.CIDR != "0.0.0.0/0" || got[0].IPBlock.Except[0] != "169.254.0.0/16" ||
		got[1].IPBlock.CIDR != "::/0" || got[1].IPBlock.Except[0] != "fd00::/8" {
		t.Errorf("internet with a deny list: %+v", got)
	}
}

func peers(np *networkingv1.NetworkPolicy) []networkingv1.NetworkPolicyPeer {
	if len(np.Spec.Egress) == 0 {
		return nil
	}
	return np.Spec.Egress[0].To
}

// TestControlPort checks that the driver finds the control port in the
// pod it makes, and none in a pod booted without one.
func TestControlPort(t *testing.T) {
	d := &Driver{cfg: Config{Namespace: "ns", AgentPort: 7311, ControlPort: 7399}}
	pod := d.podFor("k", runtime.Spec{ID: "id", Image: "img", Entrypoint: []string{"sh", "--control-port", "1"}}, "t")
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
