package oci_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/network/nettest"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
)

// TestStatsDiskAndNetwork: a sandbox's Stats count what it writes to its
// disk (10 MiB more used, out of a disk the size it was given) and what
// it exchanges through its veth (a request to an upstream: sent and
// received both grow), on crun and on gVisor.
func TestStatsDiskAndNetwork(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
		driver func(t *testing.T) *oci.Driver
	}{
		{"crun", "198.18.21.0/30", func(t *testing.T) *oci.Driver {
			requireHost(t, oci.RuntimeCrun)
			return newDriver(t, oci.RuntimeCrun, stateDir(t))
		}},
		{"gvisor", "198.18.22.0/30", func(t *testing.T) *oci.Driver {
			requireRunsc(t)
			return newGvisor(t, stateDir(t)).Driver
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.driver(t)
			up := nettest.NewUpstream(t, netip.MustParsePrefix(tc.prefix))
			sb := netSandbox(t, d, runtime.NetworkPolicy{Internet: true})
			stats := func() runtime.Stats {
				t.Helper()
				st, err := d.Stats(ctxT(t), sb.ID)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			before := stats()
			if before.DiskLimit < 48<<20 || before.DiskLimit > 64<<20 || before.DiskBytes <= 0 || before.DiskBytes >= before.DiskLimit {
				t.Fatalf("disk before: %d of %d bytes, want some of a 64 MiB disk", before.DiskBytes, before.DiskLimit)
			}
			if out, err := d.Exec(ctxT(t), sb.ID, "dd", "if=/dev/zero", "of=/big", "bs=1M", "count=10", "conv=fsync"); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if out, err := fetch(t, d, sb.ID, up.URL); err != nil || !strings.HasPrefix(strings.TrimSpace(out), "upstream saw") {
				t.Fatalf("fetch through the veth: %q %v", out, err)
			}
			after := stats()
			if grew := after.DiskBytes - before.DiskBytes; grew < 10<<20 {
				t.Errorf("disk grew by %d bytes after writing 10 MiB (%d -> %d)", grew, before.DiskBytes, after.DiskBytes)
			}
			if after.NetRxBytes <= before.NetRxBytes || after.NetTxBytes <= before.NetTxBytes {
				t.Errorf("network after a request: rx %d -> %d, tx %d -> %d; want both grown",
					before.NetRxBytes, after.NetRxBytes, before.NetTxBytes, after.NetTxBytes)
			}
			t.Logf("disk %d -> %d of %d; rx %d -> %d, tx %d -> %d", before.DiskBytes, after.DiskBytes, after.DiskLimit,
				before.NetRxBytes, after.NetRxBytes, before.NetTxBytes, after.NetTxBytes)
		})
	}
}
