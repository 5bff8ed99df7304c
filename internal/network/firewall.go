package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// Base chains, shared by every sandbox on the host. FORWARD, INPUT and
// OUTPUT jump to them first.
//
//   - HUTCH-INGRESS sees every packet headed into a sandbox's veth, before
//     anything else decides (OUTPUT for the host's own, HUTCH-FORWARD's
//     first rule for the rest): replies pass; anything new goes to the
//     sandbox's own ingress chain (HUTCH-I<tag>), or is rejected when the
//     veth has none. So whether a packet reaches a sandbox is that
//     sandbox's rule, never the sender's egress policy.
//   - HUTCH-FORWARD and HUTCH-INPUT jump from each sandbox's veth to its
//     egress chain (HUTCH-S<tag>); a veth without one is dropped.
//
// Sandbox chains end in ACCEPT or REJECT, never falling through.
const (
	chainForward = "HUTCH-FORWARD"
	chainInput   = "HUTCH-INPUT"
	chainIngress = "HUTCH-INGRESS"
	chainReject  = "HUTCH-REJECT"
	chainNAT     = "HUTCH-POSTROUTING"
	vethMatch    = "hv+"
)

// restore applies rules in one transaction per table, leaving every rule
// it does not name alone.
func restore(rules string) error {
	cmd := exec.Command("iptables-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s\n%s", err, bytes.TrimSpace(out), rules)
	}
	return nil
}

func save() (string, error) {
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		return "", fmt.Errorf("iptables-save: %w", err)
	}
	return string(out), nil
}

// installBase creates the shared chains and the jumps to them when they
// are missing; existing ones, with their sandboxes' jumps, stay as they
// are. The ingress chain and its jumps join a host whose chains an older
// server made.
func installBase() error {
	cur, err := save()
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("*filter\n")
	if !strings.Contains(cur, ":"+chainReject+" ") {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chainReject)
		fmt.Fprintf(&b, "-A %s -p tcp -j REJECT --reject-with tcp-reset\n", chainReject)
		fmt.Fprintf(&b, "-A %s -j REJECT --reject-with icmp-admin-prohibited\n", chainReject)
	}
	if !strings.Contains(cur, ":"+chainIngress+" ") {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chainIngress)
		fmt.Fprintf(&b, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", chainIngress)
		fmt.Fprintf(&b, "-A %s -j %s\n", chainIngress, chainReject)
	}
	if !strings.Contains(cur, ":"+chainForward+" ") {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chainForward)
		fmt.Fprintf(&b, "-A %s -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", chainForward, vethMatch)
		fmt.Fprintf(&b, "-A %s -i %s -j DROP\n", chainForward, vethMatch)
		fmt.Fprintf(&b, "-A %s -o %s -j DROP\n", chainForward, vethMatch)
	}
	if !strings.Contains(cur, "-A "+chainForward+" -o "+vethMatch+" -j "+chainIngress+"\n") {
		fmt.Fprintf(&b, "-I %s 1 -o %s -j %s\n", chainForward, vethMatch, chainIngress)
	}
	if !strings.Contains(cur, ":"+chainInput+" ") {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chainInput)
		fmt.Fprintf(&b, "-A %s -i %s -j DROP\n", chainInput, vethMatch)
	}
	if !strings.Contains(cur, "-A FORWARD -j "+chainForward+"\n") {
		fmt.Fprintf(&b, "-I FORWARD 1 -j %s\n", chainForward)
	}
	if !strings.Contains(cur, "-A INPUT -j "+chainInput+"\n") {
		fmt.Fprintf(&b, "-I INPUT 1 -j %s\n", chainInput)
	}
	if !strings.Contains(cur, "-A OUTPUT -o "+vethMatch+" -j "+chainIngress+"\n") {
		fmt.Fprintf(&b, "-I OUTPUT 1 -o %s -j %s\n", vethMatch, chainIngress)
	}
	b.WriteString("COMMIT\n*nat\n")
	if !strings.Contains(cur, ":"+chainNAT+" ") {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chainNAT)
	}
	if !strings.Contains(cur, "-A POSTROUTING -j "+chainNAT+"\n") {
		fmt.Fprintf(&b, "-I POSTROUTING 1 -j %s\n", chainNAT)
	}
	b.WriteString("COMMIT\n")
	return restore(b.String())
}

// sandboxRules is the egress chain of one sandbox, in order: replies,
// DNS, the deny list, the protected ranges (the host's own addresses,
// the sandbox subnet, loopback, link-local with the metadata service),
// then the allow list or the open internet. Nothing in the policy comes
// before the protected ranges, so no policy opens them.
func (m *Manager) sandboxRules(id string, p Policy) []string {
	c := fmt.Sprintf("-A %s -m comment --comment %q ", chainName(id), comment(id))
	var r []string
	r = append(r, c+"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	for _, ns := range m.cfg.Nameservers {
		for _, proto := range []string{"udp", "tcp"} {
			r = append(r, fmt.Sprintf("%s-d %s/32 -p %s --dport 53 -j ACCEPT", c, ns, proto))
		}
	}
	if !p.Internet {
		return append(r, c+"-j "+chainReject)
	}
	for _, d := range p.DenyCIDRs {
		r = append(r, fmt.Sprintf("%s-d %s -j %s", c, d, chainReject))
	}
	r = append(r, c+"-m addrtype --dst-type LOCAL -j "+chainReject)
	for _, pfx := range []string{m.cfg.Subnet.Masked().String(), loopbackRange.String(), linkLocalRange.String()} {
		r = append(r, fmt.Sprintf("%s-d %s -j %s", c, pfx, chainReject))
	}
	if len(p.AllowCIDRs) == 0 {
		return append(r, c+"-j ACCEPT")
	}
	for _, a := range p.AllowCIDRs {
		if pfx, err := netip.ParsePrefix(a); err == nil {
			r = append(r, fmt.Sprintf("%s-d %s -j ACCEPT", c, pfx.Masked()))
		}
	}
	return append(r, c+"-j "+chainReject)
}

// ingressRules is the ingress chain of one sandbox: what may open a
// connection to it over its veth. Nothing may: the port proxy dials
// inside the sandbox's namespace, never through the veth, and replies to
// the sandbox's own connections pass before this chain.
func ingressRules(id string) []string {
	return []string{fmt.Sprintf("-A %s -m comment --comment %q -j %s", ingressChainName(id), comment(id), chainReject)}
}

// applyRules (re)writes sandbox id's chain, its jumps and its NAT rule in
// one iptables-restore: the policy changes atomically. In the same
// transaction it deletes every other rule of the sandbox in the shared
// chains (the NAT rule of an older address, a duplicate jump), so a
// create runs iptables twice (save, restore), not three times.
func (m *Manager) applyRules(id string, sbx netip.Addr, p Policy) error {
	cur, err := save()
	if err != nil {
		return err
	}
	chain, in, veth, cm := chainName(id), ingressChainName(id), VethName(id), fmt.Sprintf("-m comment --comment %q", comment(id))
	// The jumps and the NAT rule, each found in a saved ruleset by its
	// prefix. Egress jumps go below HUTCH-FORWARD's first rule, the
	// ingress jump; the ingress chain's jump goes above that chain's last
	// rule, the rejection of unknown veths.
	shared := []struct{ table, prefix, insert string }{
		{"*filter", "-A " + chainForward + " -i " + veth + " ", fmt.Sprintf("-I %s 2 -i %s %s -j %s", chainForward, veth, cm, chain)},
		{"*filter", "-A " + chainInput + " -i " + veth + " ", fmt.Sprintf("-I %s 1 -i %s %s -j %s", chainInput, veth, cm, chain)},
		{"*filter", "-A " + chainIngress + " -o " + veth + " ", fmt.Sprintf("-I %s 2 -o %s %s -j %s", chainIngress, veth, cm, in)},
		{"*nat", "-A " + chainNAT + " -s " + sbx.String() + "/32 ", fmt.Sprintf("-I %s 1 -s %s/32 ! -o %s %s -j MASQUERADE", chainNAT, sbx, vethMatch, cm)},
	}
	present := make([]bool, len(shared))
	stale := map[string][]string{}
	mark := fmt.Sprintf("--comment %q", comment(id))
	table := ""
	for _, line := range strings.Split(cur, "\n") {
		if strings.HasPrefix(line, "*") {
			table = line
		}
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, mark) ||
			strings.HasPrefix(line, "-A "+chain+" ") || strings.HasPrefix(line, "-A "+in+" ") {
			continue
		}
		kept := false
		for i, r := range shared {
			if !present[i] && table == r.table && strings.HasPrefix(line, r.prefix) {
				present[i], kept = true, true
				break
			}
		}
		if !kept {
			stale[table] = append(stale[table], "-D "+line[3:])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*filter\n:%s - [0:0]\n-F %s\n:%s - [0:0]\n-F %s\n", chain, chain, in, in)
	for _, r := range m.sandboxRules(id, p) {
		b.WriteString(r + "\n")
	}
	for _, r := range ingressRules(id) {
		b.WriteString(r + "\n")
	}
	for _, t := range []string{"*filter", "*nat"} {
		if t != "*filter" {
			b.WriteString(t + "\n")
		}
		for _, d := range stale[t] {
			b.WriteString(d + "\n")
		}
		for i, r := range shared {
			if r.table == t && !present[i] {
				b.WriteString(r.insert + "\n")
			}
		}
		b.WriteString("COMMIT\n")
	}
	return restore(b.String())
}

// removeRules deletes every rule that carries sandbox id's comment and
// its chain; what is already gone is skipped.
func removeRules(id string) error {
	cur, err := save()
	if err != nil {
		return err
	}
	chains := []string{chainName(id), ingressChainName(id)}
	mark := fmt.Sprintf("--comment %q", comment(id))
	inChain := func(line string) bool {
		for _, c := range chains {
			if strings.HasPrefix(line, "-A "+c+" ") {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	var table string
	changed := false
	for _, line := range strings.Split(cur, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			table = line
			b.WriteString(line + "\n")
		case line == "COMMIT":
			for _, c := range chains {
				if table == "*filter" && strings.Contains(cur, ":"+c+" ") {
					fmt.Fprintf(&b, "-F %s\n-X %s\n", c, c)
					changed = true
				}
			}
			b.WriteString("COMMIT\n")
		case strings.HasPrefix(line, "-A ") && strings.Contains(line, mark) && !inChain(line):
			b.WriteString("-D " + line[3:] + "\n")
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return restore(b.String())
}

// RulesOf lists the iptables rules and chains that name sandbox id, for
// leak checks.
func RulesOf(id string) []string {
	cur, err := save()
	if err != nil {
		return []string{"iptables-save failed: " + err.Error()}
	}
	var out []string
	for _, line := range strings.Split(cur, "\n") {
		if strings.Contains(line, comment(id)+"\"") || strings.Contains(line, chainName(id)) || strings.Contains(line, ingressChainName(id)) {
			out = append(out, line)
		}
	}
	return out
}
