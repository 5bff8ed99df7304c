package kubetest

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// With flannel, kube-proxy and the network policy controller off, only
// the kubelet touches iptables: it makes its canary chains
// (KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT, KUBE-FIREWALL and the like) to
// notice a flush. Close removes the KUBE- (and CNI-) chains that were not
// there before, with the rules that jump to them; chains the host had, and
// every chain of another prefix, are left alone.

var (
	iptablesTools  = []string{"iptables", "ip6tables"}
	iptablesTables = []string{"filter", "nat", "mangle", "raw"}
)

// iptablesChains lists "tool/table/chain" for every user chain now.
func iptablesChains() map[string]bool {
	chains := map[string]bool{}
	for _, tool := range iptablesTools {
		for _, table := range iptablesTables {
			out, err := exec.Command(tool, "-w", "-t", table, "-S").Output()
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(out), "\n") {
				if name, ok := strings.CutPrefix(line, "-N "); ok {
					chains[tool+"/"+table+"/"+name] = true
				}
			}
		}
	}
	return chains
}

// ownChain reports whether a chain is of the kind the cluster makes. Other
// chains appear and go all the time (the oci driver's, one per sandbox,
// from other test binaries and servers): they are never touched.
func ownChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-")
}

// removeNewChains deletes the cluster's chains (ownChain) not in before:
// first the rules in any chain that jump to one of them, then their rules,
// then the chains.
func removeNewChains(before map[string]bool) error {
	var errs []error
	for _, tool := range iptablesTools {
		for _, table := range iptablesTables {
			out, err := exec.Command(tool, "-w", "-t", table, "-S").Output()
			if err != nil {
				continue
			}
			lines := strings.Split(string(out), "\n")
			fresh := map[string]bool{}
			for _, line := range lines {
				if name, ok := strings.CutPrefix(line, "-N "); ok && ownChain(name) && !before[tool+"/"+table+"/"+name] {
					fresh[name] = true
				}
			}
			if len(fresh) == 0 {
				continue
			}
			run := func(args ...string) {
				cmd := exec.Command(tool, append([]string{"-w", "-t", table}, args...)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("%s -t %s %s: %w: %s", tool, table, strings.Join(args, " "), err, strings.TrimSpace(string(out))))
				}
			}
			for _, line := range lines {
				rule, ok := strings.CutPrefix(line, "-A ")
				if !ok {
					continue
				}
				f := strings.Fields(rule)
				if fresh[f[0]] {
					continue // goes with its chain
				}
				for i := 1; i+1 < len(f); i++ {
					if (f[i] == "-j" || f[i] == "-g") && fresh[f[i+1]] {
						// -S prints rules as iptables parses them back,
						// but comments may be quoted: delete by spec via sh.
						cmd := exec.Command("sh", "-c", tool+" -w -t "+table+" -D "+rule)
						if out, err := cmd.CombinedOutput(); err != nil {
							errs = append(errs, fmt.Errorf("%s -t %s -D %s: %w: %s", tool, table, rule, err, strings.TrimSpace(string(out))))
						}
						break
					}
				}
			}
			for name := range fresh {
				run("-F", name)
			}
			for name := range fresh {
				run("-X", name)
			}
		}
	}
	return errors.Join(errs...)
}
