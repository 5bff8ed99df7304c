package kubetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"
)

// TestRemoveNewChainsKeepsOthers: chains that appear while a cluster runs
// but are not the cluster's kind (another sandbox's HUTCH- chains) must
// survive its Close; the cluster's own new KUBE- chains, and the rules
// that jump to them, go.
func TestRemoveNewChainsKeepsOthers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (iptables)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	kube, other, holder := "KUBE-KTEST-"+suffix, "HUTCH-KTEST-"+suffix, "HUTCH-KTESTH-"+suffix
	ipt := func(args ...string) error {
		return exec.Command("iptables", append([]string{"-w", "-t", "filter"}, args...)...).Run()
	}
	t.Cleanup(func() {
		for _, c := range []string{holder, kube, other} {
			_ = ipt("-F", c)
		}
		for _, c := range []string{holder, kube, other} {
			_ = ipt("-X", c)
		}
	})
	before := iptablesChains()
	for _, c := range []string{kube, other, holder} {
		if err := ipt("-N", c); err != nil {
			t.Fatalf("iptables -N %s: %v", c, err)
		}
	}
	if err := ipt("-A", holder, "-j", kube); err != nil { // a jump to the cluster's chain from elsewhere
		t.Fatal(err)
	}
	if err := removeNewChains(before); err != nil {
		t.Fatal(err)
	}
	after := iptablesChains()
	if after["iptables/filter/"+kube] {
		t.Errorf("the cluster's new chain %s is still there", kube)
	}
	if !after["iptables/filter/"+other] || !after["iptables/filter/"+holder] {
		t.Errorf("chains that are not the cluster's were removed (%s: %v, %s: %v)",
			other, after["iptables/filter/"+other], holder, after["iptables/filter/"+holder])
	}
}
