package network_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/network/nettest"
)

func newManager(tb testing.TB) *network.Manager {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("sandbox networks need root")
	}
	dir, err := os.MkdirTemp("", "hutch-net-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	m, err := network.New(network.Config{Subnet: netip.MustParsePrefix(network.DefaultSubnet), Dir: dir}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkSetup is the network share of a create: the namespace, and
// with internet the veth, addresses, route and rules. Removal is left out
// of the timing (deleting a veth waits for an RCU grace period, about
// 20 ms, on the delete path only).
func BenchmarkSetup(b *testing.B) {
	m := newManager(b)
	for _, internet := range []bool{false, true} {
		b.Run(fmt.Sprintf("internet=%v", internet), func(b *testing.B) {
			i := 0
			for b.Loop() {
				id := fmt.Sprintf("bench%d-%d", os.Getpid(), i)
				i++
				if _, err := m.Ensure(context.Background(), id, network.Policy{Internet: internet}, nil, 0); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := m.Remove(id); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkDial compares a connection made inside a sandbox's namespace
// (what the port proxy does for every new connection) with a plain one.
func BenchmarkDial(b *testing.B) {
	m := newManager(b)
	id := fmt.Sprintf("benchdial%d", os.Getpid())
	a, err := m.Ensure(context.Background(), id, network.Policy{}, nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Remove(id)
	ln := nettest.ListenIn(b, a.Netns, "127.0.0.1:0")
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer host.Close()
	for _, l := range []net.Listener{ln, host} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	b.Run("netns", func(b *testing.B) {
		for b.Loop() {
			c, err := network.DialNetns(context.Background(), a.Netns, ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("host", func(b *testing.B) {
		for b.Loop() {
			c, err := net.Dial("tcp", host.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}
