package kube_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/kube"
	"github.com/hutchdev/hutch/internal/runtime/kube/kubetest"
)

// testTakeRace checks two replicas (two drivers, each with its own
// locks) taking one prepared pod at once: exactly one take wins and its
// sandbox runs; the other fails as a conflict and leaves the winner's
// sandbox whole and nothing of its own id.
func testTakeRace(t *testing.T, c *kubetest.Cluster, probe *kubetest.Probe) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, b := newDriver(t, awayConfig(c)), newDriver(t, awayConfig(c))
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	ps := runtime.PoolSpec{ID: "pool-race" + suffix, Image: testImage, DiskMB: 64, CPU: 0.5, MemoryMB: 64}
	specs := []runtime.Spec{
		{ID: "ra" + suffix, Image: testImage, Entrypoint: []string{"sleep", "1000"}, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64},
		{ID: "rb" + suffix, Image: testImage, Entrypoint: []string{"sleep", "1000"}, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64},
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = a.DropPrepared(ctx, ps)
		for _, id := range []string{ps.ID, specs[0].ID, specs[1].ID} {
			if err := a.Delete(ctx, id); err != nil {
				t.Error(err)
			}
			if left, err := probe.Leftovers(ctx, a, id); err != nil || len(left) > 0 {
				t.Errorf("%s left behind: %v %v", id, left, err)
			}
		}
	})
	if err := a.Prepare(ctx, ps); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, d := range []*kube.Driver{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Take(ctx, ps, specs[i])
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			if won >= 0 {
				t.Fatalf("both takes of one prepared pod succeeded")
			}
			won = i
		}
	}
	if won < 0 {
		t.Fatalf("neither take succeeded: %v", errs)
	}
	lost := 1 - won
	if !errors.Is(errs[lost], errdefs.ErrConflict) {
		t.Errorf("the losing take failed with %v, want a conflict", errs[lost])
	}
	if out, err := a.Exec(ctx, specs[won].ID, "echo", "alive"); err != nil || string(out) != "alive\n" {
		t.Errorf("the winner's sandbox after the race: %q %v", out, err)
	}
	if st, err := b.Recover(ctx, specs[lost].ID); err != nil || st.State != runtime.StateMissing {
		t.Errorf("the loser's id after the race: %+v %v", st, err)
	}
	if got, err := b.Prepared(ctx); err != nil || len(got) != 0 {
		t.Errorf("prepared after the take: %v %v", got, err)
	}
}
