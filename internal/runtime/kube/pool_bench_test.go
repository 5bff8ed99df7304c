package kube_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/trace"
)

// BenchmarkPoolTake times a take of a prepared (held) pod next to a cold
// create of the same sandbox, interleaved in each round, and the take's
// steps, on a throwaway k3s. The prepare and the deletes are not timed.
//
//	go test -run '^$' -bench PoolTake -benchtime 5x ./internal/runtime/kube/
func BenchmarkPoolTake(b *testing.B) {
	c := cluster(b)
	d := newDriver(b, awayConfig(c))
	ctx := context.Background()
	times := map[string][]time.Duration{}
	timed := func(name string, fn func() error) {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		times[name] = append(times[name], time.Since(start))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps := runtime.PoolSpec{ID: fmt.Sprintf("benchpool%d", i), Image: testImage, DiskMB: 64, CPU: 0.5, MemoryMB: 64}
		spec := runtime.Spec{ID: fmt.Sprintf("benchtake%d", i), Image: testImage, DiskMB: 64, CPU: 0.5, MemoryMB: 64, Pids: 64,
			Entrypoint: []string{"sleep", "1000"}, Env: map[string]string{"FOO": "bar"}}
		cold := spec
		cold.ID = fmt.Sprintf("benchcold%d", i)
		b.Cleanup(func() {
			for _, id := range []string{ps.ID, spec.ID, cold.ID} {
				_ = d.Delete(context.Background(), id)
			}
		})
		b.StopTimer()
		if err := d.Prepare(ctx, ps); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rec := trace.New()
		timed("take", func() error { return d.Take(trace.WithRecorder(ctx, rec), ps, spec) })
		for _, sp := range rec.Spans() {
			times[sp.Name()] = append(times[sp.Name()], sp.Duration)
		}
		timed("create", func() error { return d.Create(ctx, cold) })
		b.StopTimer()
		for _, id := range []string{spec.ID, cold.ID} {
			if err := d.Delete(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range times {
			if !yield(k) {
				return
			}
		}
	}) {
		ds := slices.Clone(times[name])
		slices.Sort(ds)
		b.Logf("%-20s n=%d median %v max %v", name, len(ds), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
}
