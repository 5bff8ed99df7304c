package oci_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
)

// BenchmarkRuntimesSideBySide times create, exec, pause, resume, a
// checkpoint round trip (gvisor) and delete of the same small sandbox on
// crun and on gVisor, reporting the median of each step and the host
// memory (its cgroup's) of an idle sandbox.
func BenchmarkRuntimesSideBySide(b *testing.B) {
	requireRunsc(b)
	for _, name := range []string{"crun", "gvisor"} {
		b.Run(name, func(b *testing.B) {
			dir := stateDir(b)
			var rt interface {
				runtime.Runtime
				Exec(ctx context.Context, id string, argv ...string) ([]byte, error)
			}
			var ck runtime.Checkpointer
			if name == "gvisor" {
				g := newGvisor(b, dir)
				rt, ck = g, g
			} else {
				rt = newDriver(b, oci.RuntimeCrun, dir)
			}
			ctx := context.Background()
			steps := map[string][]time.Duration{}
			step := func(s string, fn func() error) {
				start := time.Now()
				if err := fn(); err != nil {
					b.Fatalf("%s: %v", s, err)
				}
				steps[s] = append(steps[s], time.Since(start))
			}
			var mem []int64
			for i := 0; i < b.N; i++ {
				sp := runtime.Spec{ID: fmt.Sprintf("bn%s%d", name[:2], i), Image: testImage, DiskMB: 64, MemoryMB: 256}
				b.Cleanup(func() { _ = rt.Delete(context.Background(), sp.ID) })
				step("create", func() error { return rt.Create(ctx, sp) })
				step("exec", func() error { _, err := rt.Exec(ctx, sp.ID, "true"); return err })
				if st, err := rt.Stats(ctx, sp.ID); err == nil {
					mem = append(mem, st.MemoryBytes)
				}
				step("pause", func() error { return rt.Pause(ctx, sp.ID) })
				step("resume", func() error { return rt.Resume(ctx, sp.ID) })
				if ck != nil {
					step("pause", func() error { return rt.Pause(ctx, sp.ID) })
					step("checkpoint", func() error { _, err := ck.Checkpoint(ctx, sp.ID); return err })
					step("restore", func() error { return ck.Restore(ctx, sp.ID) })
					step("resume", func() error { return rt.Resume(ctx, sp.ID) })
				}
				step("delete", func() error { return rt.Delete(ctx, sp.ID) })
			}
			for s, ds := range steps {
				slices.Sort(ds)
				b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, s+"-ms")
			}
			if len(mem) > 0 {
				slices.Sort(mem)
				b.ReportMetric(float64(mem[len(mem)/2])/(1<<20), "idle-MiB")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
