package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
)

// Base chains, shared by every sandbox on the host. FORWARD and INPUT jump
// to them first; each sandbox adds a jump from its veth to its own chain.
// A veth without a chain, and new connections from outside to a sandbox,
// are dropped. Sandbox chains end in ACCEPT or REJECT, never falling
// through.
const (
	chainForward = "HUTCH-FORWARD"
	chainInput   = "HUTCH-INPUT"
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
// are missing; existing ones, with their sandboxes' jumps, stay as they are.
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
	if !strings.Contains(cur, ":"+chainForward+" ") {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chainForward)
		fmt.Fprintf(&b, "-A %s -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", chainForward, vethMatch)
		fmt.Fprintf(&b, "-A %s -i %s -j DROP\n", chainForward, vethMatch)
		fmt.Fprintf(&b, "-A %s -o %s -j DROP\n", chainForward, vethMatch)
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

// sandboxRules is the filter chain of one sandbox, in order: replies,
// DNS, the deny list, explicit allows of protected ranges, the protected
// ranges (the host's own addresses, the sandbox subnet, link-local with
// the metadata service), then the allow list or the open internet.
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
	protected := append([]netip.Prefix{m.cfg.Subnet, metadataRange}, hostAddrs()...)
	for _, a := range p.AllowCIDRs {
		if pfx, err := netip.ParsePrefix(a); err == nil && within(pfx, protected) {
			r = append(r, fmt.Sprintf("%s-d %s -j ACCEPT", c, pfx.Masked()))
		}
	}
	r = append(r, c+"-m addrtype --dst-type LOCAL -j "+chainReject)
	for _, pfx := range protected[:2] {
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

// within reports whether p lies inside one of the protected ranges, which
// makes an allow entry for it explicit: 0.0.0.0/0 opens the internet, not
// the host.
func within(p netip.Prefix, protected []netip.Prefix) bool {
	for _, q := range protected {
		if p.Bits() >= q.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
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

// applyRules (re)writes sandbox id's chain, its jumps and its NAT rule in
// one iptables-restore: the policy changes atomically.
func (m *Manager) applyRules(id string, sbx netip.Addr, p Policy) error {
	cur, err := save()
	if err != nil {
		return err
	}
	chain, veth, cm := chainName(id), VethName(id), fmt.Sprintf("-m comment --comment %q", comment(id))
	var b strings.Builder
	fmt.Fprintf(&b, "*filter\n:%s - [0:0]\n-F %s\n", chain, chain)
	for _, r := range m.sandboxRules(id, p) {
		b.WriteString(r + "\n")
	}
	mark := fmt.Sprintf("--comment %q", comment(id))
	for _, base := range []string{chainForward, chainInput} {
		if !hasRule(cur, "-A "+base+" -i "+veth+" ", mark) {
			fmt.Fprintf(&b, "-I %s 1 -i %s %s -j %s\n", base, veth, cm, chain)
		}
	}
	b.WriteString("COMMIT\n*nat\n")
	if !hasRule(cur, "-A "+chainNAT+" -s "+sbx.String()+"/32 ", mark) {
		fmt.Fprintf(&b, "-I %s 1 -s %s/32 ! -o %s %s -j MASQUERADE\n", chainNAT, sbx, vethMatch, cm)
	}
	b.WriteString("COMMIT\n")
	return restore(b.String())
}

// hasRule reports whether a saved rule starts with prefix and holds mark.
func hasRule(saved, prefix, mark string) bool {
	for _, line := range strings.Split(saved, "\n") {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, mark) {
			return true
		}
	}
	return false
}

// removeRules deletes every rule that carries sandbox id's comment and
// its chain; what is already gone is skipped.
func removeRules(id string) error {
	cur, err := save()
	if err != nil {
		return err
	}
	chain := chainName(id)
	mark := fmt.Sprintf("--comment %q", comment(id))
	var b strings.Builder
	var table string
	changed := false
	for _, line := range strings.Split(cur, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			table = line
			b.WriteString(line + "\n")
		case line == "COMMIT":
			if table == "*filter" && strings.Contains(cur, ":"+chain+" ") {
				fmt.Fprintf(&b, "-F %s\n-X %s\n", chain, chain)
				changed = true
			}
			b.WriteString("COMMIT\n")
		case strings.HasPrefix(line, "-A ") && strings.Contains(line, mark) && !strings.HasPrefix(line, "-A "+chain+" "):
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
		if strings.Contains(line, comment(id)+"\"") || strings.Contains(line, chainName(id)) {
			out = append(out, line)
		}
	}
	return out
}
