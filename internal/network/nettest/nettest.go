// Package nettest makes stand-ins for the outside world that sandbox
// network tests can reach without sending a packet off the machine: a
// namespace behind a veth of its own, with an HTTP server in it that
// answers with the address it saw the request come from (so that a test
// sees NAT at work).
package nettest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Upstream is a network namespace reached through the host.
type Upstream struct {
	// HostAddr is the host's side of the link, ServerAddr the namespace's.
	HostAddr, ServerAddr netip.Addr
	// URL is the namespace's HTTP server.
	URL string
}

// NewUpstream makes a namespace linked to the host by a veth on prefix
// (a /30 of 198.18.0.0/15, the range set aside for benchmarks: never
// routed anywhere): the host side is the first address, the namespace the
// second. Everything goes at the end of the test.
func NewUpstream(t testing.TB, prefix netip.Prefix) *Upstream {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hu" + hex.EncodeToString(b)
	dir, err := os.MkdirTemp("", "hutch-upstream-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ns")
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			_ = netlink.LinkDel(l)
		}
		if err := removeNetns(path); err != nil {
			t.Errorf("remove upstream netns: %v", err)
		}
		os.RemoveAll(dir)
	})
	if err := createNetns(path); err != nil {
		t.Fatal(err)
	}
	host := prefix.Masked().Addr().Next()
	u := &Upstream{HostAddr: host, ServerAddr: host.Next()}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := setup(name, ns, u, prefix.Bits()); err != nil {
		t.Fatalf("upstream %s: %v", prefix, err)
	}
	ln := ListenIn(t, path, net.JoinHostPort(u.ServerAddr.String(), "0"))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "upstream saw %s\n", host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u.URL = "http://" + ln.Addr().String() + "/"
	return u
}

func setup(name string, ns netns.NsHandle, u *Upstream, bits int) error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return err
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	mask := net.CIDRMask(bits, 32)
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: u.HostAddr.AsSlice(), Mask: mask}}); err != nil {
		return err
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
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: u.ServerAddr.AsSlice(), Mask: mask}}); err != nil {
		return err
	}
	return h.LinkSetUp(peer)
}
