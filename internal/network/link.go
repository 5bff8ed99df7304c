package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lockPath serialises address allocation and firewall edits between every
// hutch process on the host (a server and test binaries may share it).
const lockPath = "/run/hutch-network.lock"

func hostLock() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("network lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// usedSlots lists the slots whose gateway address is on some host
// interface: the kernel, not a file, is the truth about what is taken.
func (m *Manager) usedSlots() (map[int]bool, error) {
	list, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	used := map[int]bool{}
	base := m.cfg.Subnet.Masked().Addr().As4()
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok || !m.cfg.Subnet.Contains(ip) {
			continue
		}
		b := ip.As4()
		off := (int(b[0])-int(base[0]))<<24 | (int(b[1])-int(base[1]))<<16 | (int(b[2])-int(base[2]))<<8 | (int(b[3]) - int(base[3]))
		used[off/2] = true
	}
	return used, nil
}

// allocate picks a free slot, want when it is free.
func (m *Manager) allocate(want int) (int, error) {
	used, err := m.usedSlots()
	if err != nil {
		return 0, err
	}
	if want > 0 && want <= m.slots() && !used[want] {
		return want, nil
	}
	for s := 1; s <= m.slots(); s++ {
		if !used[s] {
			return s, nil
		}
	}
	return 0, fmt.Errorf("network: no free address left in %s", m.cfg.Subnet)
}

// addVeth creates sandbox id's veth pair: hv<tag> on the host with the
// gateway address, eth0 in the namespace with the sandbox address and a
// default route through the gateway.
func (m *Manager) addVeth(id, nsPath string, slot int) error {
	gw, sbx := m.addrs(slot)
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	host := VethName(id)
	if l, err := netlink.LinkByName(host); err == nil {
		_ = netlink.LinkDel(l) // a half-made pair from a crash
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s: %w", host, err)
	}
	link, err := netlink.LinkByName(host)
	if err != nil {
		return err
	}
	// Host side: no IPv6 (a link-local path would bypass the firewall).
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+host+"/disable_ipv6", []byte("1"), 0o644)
	if err := netlink.LinkSetAlias(link, comment(id)); err != nil {
		return err
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipnet(gw, 31)}); err != nil {
		return fmt.Errorf("address %s on %s: %w", gw, host, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	peer, err := h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipnet(sbx, 31)}); err != nil {
		return fmt.Errorf("address %s in sandbox: %w", sbx, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return err
	}
	return h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: net.IP(gw.AsSlice())})
}

// delVeth removes the host side of sandbox id's veth (the peer goes with
// it); a missing one is fine.
func delVeth(id string) error {
	l, err := netlink.LinkByName(VethName(id))
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	return netlink.LinkDel(l)
}

func hasVeth(id string) bool {
	_, err := netlink.LinkByName(VethName(id))
	return err == nil
}

// setupLoopback brings lo up and sets the sandbox sysctls, from inside.
func setupNamespace(nsPath string) error {
	return inNetns(nsPath, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		for _, s := range sandboxSysctls {
			if err := writeSysctl(s[0], s[1]); err != nil {
				return fmt.Errorf("sysctl %s: %w", s[0], err)
			}
		}
		return nil
	})
}

func ipnet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(bits, 32)}
}

// enableForwarding turns on IPv4 forwarding, which NAT needs.
func enableForwarding(log interface{ Info(string, ...any) }) error {
	const p = "/proc/sys/net/ipv4/ip_forward"
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if len(b) > 0 && b[0] == '1' {
		return nil
	}
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("network: enable ip_forward: %w", err)
	}
	log.Info("enabled IPv4 forwarding for sandbox NAT")
	return nil
}
