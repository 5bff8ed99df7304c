package sandbox_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// A driver that fixes limits at prepare (PoolLimits) is given the default
// resources with each member, and only a create with those takes one; a
// driver that applies a create's limits at Take is given none, and serves
// creates of any limits.
func TestPoolLimits(t *testing.T) {
	for _, tc := range []struct {
		name        string
		limits      bool
		otherMemory string // createPath of a create with its own memory
	}{
		{"fixed at prepare", true, sandbox.CreatePathCold},
		{"applied at take", false, sandbox.CreatePathPool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := fakeruntime.NewPooling()
			rt.PoolLimits = tc.limits
			r := newPoolRigOn(t, rt, nil)
			r.waitReady(2)
			d := r.cfg.DefaultResources
			want := runtime.PoolSpec{}
			if tc.limits {
				want = runtime.PoolSpec{CPU: d.CPU, MemoryMB: d.MemoryMB}
			}
			for _, p := range r.prepared() {
				if p.CPU != want.CPU || p.MemoryMB != want.MemoryMB {
					t.Fatalf("prepared %+v, want limits %+v", p, want)
				}
			}
			if got := r.createPath(r.create(sandbox.CreateRequest{})); got != sandbox.CreatePathPool {
				t.Fatalf("createPath %q of a create with the default resources, want pool", got)
			}
			mem := d.MemoryMB / 2
			sb := r.create(sandbox.CreateRequest{MemoryMB: &mem})
			if got := r.createPath(sb); got != tc.otherMemory {
				t.Fatalf("createPath %q of a create with %d MB (default %d), want %s", got, mem, d.MemoryMB, tc.otherMemory)
			}
			// The pids limit is the take's on every driver.
			r.waitReady(2)
			pids := d.Pids / 2
			if got := r.createPath(r.create(sandbox.CreateRequest{Pids: &pids})); got != sandbox.CreatePathPool {
				t.Fatalf("createPath %q of a create with %d pids (default %d), want pool", got, pids, d.Pids)
			}
			if !tc.limits {
				return
			}
			calls := r.rt.CallsSoFar()
			if slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "take ") && strings.HasSuffix(c, " "+sb.ID) }) {
				t.Fatalf("a member of other limits was offered to %s: %v", sb.ID, calls)
			}
			if !slices.Contains(calls, "create "+sb.ID) {
				t.Fatalf("the create with its own memory was not booted: %v", calls)
			}
		})
	}
}

// A restart under PoolLimits keeps a member left with the default limits
// and drops one left with others (the defaults changed meanwhile).
func TestPoolRestartDropsOtherLimits(t *testing.T) {
	rt := fakeruntime.NewPooling()
	rt.PoolLimits = true
	r := newPoolRigOn(t, rt, nil)
	r.close()
	ctx := context.Background()
	d := r.cfg.DefaultResources
	for _, p := range []runtime.PoolSpec{
		{ID: "pool_keep", Image: r.base.Digest, DiskMB: d.DiskMB, CPU: d.CPU, MemoryMB: d.MemoryMB},
		{ID: "pool_othermemory", Image: r.base.Digest, DiskMB: d.DiskMB, CPU: d.CPU, MemoryMB: d.MemoryMB + 1},
	} {
		if _, err := r.images.In("").Pin(ctx, p.ID, "base"); err != nil {
			t.Fatal(err)
		}
		if err := r.rt.Prepare(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	r.open()
	r.waitReady(2)
	got := poolIDs(r.prepared())
	if len(got) != 2 || !slices.Contains(got, "pool_keep") || slices.Contains(got, "pool_othermemory") {
		t.Fatalf("prepared after the restart %v, want pool_keep and one new", got)
	}
	if pins := r.poolPins(); !slices.Equal(pins, got) {
		t.Fatalf("pool pins %v, want those of %v", pins, got)
	}
}
