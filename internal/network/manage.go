package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Ensure makes sandbox id's network match p and returns what it is made
// of. It builds only what is missing, so the same call creates a network,
// rebuilds one after a reboot (keeping prev's address when it is still
// free) and re-attaches a running sandbox whose namespace mount was lost
// (pid is its init, 0 when none runs).
func (m *Manager) Ensure(ctx context.Context, id string, p Policy, prev *Attachment, pid int) (*Attachment, error) {
	if err := ParsePolicy(p); err != nil {
		return nil, err
	}
	a := &Attachment{Netns: m.NetnsPath(id), Policy: p}
	if prev != nil {
		a.Slot = prev.Slot
	}
	if !isNetns(a.Netns) {
		if err := createNetns(a.Netns, pid); err != nil {
			return nil, fmt.Errorf("network of %s: %w", id, err)
		}
		if err := setupNamespace(a.Netns); err != nil {
			return nil, fmt.Errorf("network of %s: %w", id, err)
		}
	}
	if err := m.apply(id, a); err != nil {
		return nil, fmt.Errorf("network of %s: %w", id, err)
	}
	return a, nil
}

// SetPolicy changes the policy of a sandbox whose network exists: a veth
// appears or goes when internet changes, the chain is rewritten in place.
func (m *Manager) SetPolicy(ctx context.Context, id string, a *Attachment, p Policy) (*Attachment, error) {
	if err := ParsePolicy(p); err != nil {
		return nil, err
	}
	if a == nil || !isNetns(a.Netns) {
		return nil, fmt.Errorf("network of %s: %w", id, errNoNetns)
	}
	b := *a
	b.Policy = p
	if err := m.apply(id, &b); err != nil {
		return nil, fmt.Errorf("network of %s: %w", id, err)
	}
	return &b, nil
}

// apply brings the veth and the rules in line with a.Policy, holding the
// host-wide lock, and records the slot in a.
func (m *Manager) apply(id string, a *Attachment) error {
	unlock, err := hostLock()
	if err != nil {
		return err
	}
	defer unlock()
	if !a.Policy.Internet {
		// Loopback only: no veth, so nothing to filter.
		a.Slot = 0
		return errors.Join(delVeth(id), removeRules(id))
	}
	if !hasVeth(id) || !m.slotOnVeth(id, a.Slot) {
		slot, err := m.allocate(a.Slot)
		if err != nil {
			return err
		}
		if err := m.addVeth(id, a.Netns, slot); err != nil {
			_ = delVeth(id)
			return err
		}
		a.Slot = slot // applyRules drops the rules of an older address
	}
	_, sbx := m.addrs(a.Slot)
	return m.applyRules(id, sbx, a.Policy)
}

// slotOnVeth reports whether the host side of id's veth has slot's
// gateway address.
func (m *Manager) slotOnVeth(id string, slot int) bool {
	if slot <= 0 {
		return false
	}
	gw, _ := m.addrs(slot)
	ifc, err := net.InterfaceByName(VethName(id))
	if err != nil {
		return false
	}
	addrs, _ := ifc.Addrs()
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok && n.IP.Equal(net.IP(gw.AsSlice())) {
			return true
		}
	}
	return false
}

// Remove deletes everything of sandbox id's network: veth, rules and the
// namespace mount. Missing parts are fine.
func (m *Manager) Remove(id string) error {
	unlock, err := hostLock()
	if err != nil {
		return err
	}
	defer unlock()
	// Deleting a veth waits for an RCU grace period (about 20 ms) and the
	// rules take two iptables runs: the two overlap. A veth left without
	// its rules meanwhile is dropped by the base chains.
	veth := make(chan error, 1)
	go func() { veth <- delVeth(id) }()
	err = errors.Join(removeRules(id), removeNetns(m.NetnsPath(id)))
	return errors.Join(<-veth, err)
}

// Leftovers lists what is left on the host of sandbox id's network.
func (m *Manager) Leftovers(id string) []string {
	out := Leftovers(id)
	if _, err := os.Stat(m.NetnsPath(id)); err == nil {
		out = append(out, "netns file: "+m.NetnsPath(id))
	}
	return out
}

// Leftovers lists the veth and rules of sandbox id still on the host.
func Leftovers(id string) []string {
	var out []string
	if hasVeth(id) {
		out = append(out, "veth: "+VethName(id))
	}
	for _, r := range RulesOf(id) {
		out = append(out, "iptables: "+r)
	}
	return out
}

// hostNameservers reads the host's resolv.conf, skipping loopback
// resolvers that a sandbox cannot reach.
func hostNameservers(path string) []netip.Addr {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil && a.Is4() && !a.IsLoopback() {
			out = append(out, a)
		}
	}
	return out
}

// PortAddress is the address the proxy dials inside a sandbox.
func PortAddress(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
