package kube_test

import (
	"bytes"
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
	removeAtEnd(t, a, probe, ps, specs[0].ID, specs[1].ID)
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

// testTakenArchive checks that a sandbox taken from the pool has the
// spec's pids limit and keeps the owners of its files through a stop, an archive (export, discard,
// import) and a start: its claim was seeded for the pool key's uid
// range, and the pod booted on the imported claim must use that range,
// not the user's key's, or root inside would own nothing.
func testTakenArchive(t *testing.T, c *kubetest.Cluster, probe *kubetest.Probe) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d := newDriver(t, awayConfig(c))
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	ps := runtime.PoolSpec{ID: "pool-arch" + suffix, Image: testImage, DiskMB: 64, CPU: 0.5, MemoryMB: 64}
	sp := runtime.Spec{ID: "ar" + suffix, Image: testImage, Entrypoint: []string{"sleep", "1000"}, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
	removeAtEnd(t, d, probe, ps, sp.ID)
	if err := d.Prepare(ctx, ps); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if err := d.Take(ctx, ps, sp); err != nil {
		t.Fatalf("take: %v", err)
	}
	owners := func(when string) {
		t.Helper()
		out, err := d.Exec(ctx, sp.ID, "sh", "-c", "stat -c %u:%g /bin /root/marker && cat /root/marker && touch /root/new")
		if err != nil || string(out) != "0:0\n0:0\nkept\n" {
			t.Fatalf("%s: owners and marker %q, %v (want root's)", when, out, err)
		}
	}
	if out, err := d.Exec(ctx, sp.ID, "sh", "-c", "echo kept > /root/marker"); err != nil {
		t.Fatalf("write the marker: %q %v", out, err)
	}
	// The held boot set the spec's pids limit at the take.
	if out, err := d.Exec(ctx, sp.ID, "cat", "/sys/fs/cgroup/pids/pids.max"); err != nil || string(out) != strconv.FormatInt(sp.Pids, 10)+"\n" {
		t.Errorf("pids.max of the taken sandbox %q %v, want %d", out, err, sp.Pids)
	}
	// It set the hostname too, in the pod's UTS namespace and in the
	// kubelet's /etc/hostname, which still named the pool's pod.
	// (sp.ID is a DNS label, so it is the hostname whole.)
	if out, err := d.Exec(ctx, sp.ID, "sh", "-c", "hostname; cat /etc/hostname"); err != nil || string(out) != sp.ID+"\n"+sp.ID+"\n" {
		t.Errorf("hostname and /etc/hostname of the taken sandbox %q %v, want %s twice", out, err, sp.ID)
	}
	owners("taken")
	if err := d.Stop(ctx, sp.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if err := d.Export(ctx, sp.ID, &packed); err != nil {
		t.Fatalf("export: %v", err)
	}
	if err := d.Discard(ctx, sp.ID); err != nil {
		t.Fatalf("discard: %v", err)
	}
	if st, err := d.Recover(ctx, sp.ID); err != nil || st.State != runtime.StateStopped {
		t.Fatalf("recover after discard: %+v %v", st, err)
	}
	if err := d.Import(ctx, sp.ID, &packed); err != nil {
		t.Fatalf("import: %v", err)
	}
	if err := d.Start(ctx, sp); err != nil {
		t.Fatalf("start after import: %v", err)
	}
	owners("started from the archive")
}

// removeAtEnd removes, at the end of the test, the prepared sandbox ps
// and the sandboxes ids, and checks that nothing is left of any.
func removeAtEnd(t *testing.T, d *kube.Driver, probe *kubetest.Probe, ps runtime.PoolSpec, ids ...string) {
	t.Cleanup(func() {
		ctx := context.Background()
		_ = d.DropPrepared(ctx, ps)
		for _, id := range append([]string{ps.ID}, ids...) {
			if err := d.Delete(ctx, id); err != nil {
				t.Error(err)
			}
			if left, err := probe.Leftovers(ctx, d, id); err != nil || len(left) > 0 {
				t.Errorf("%s left behind: %v %v", id, left, err)
			}
		}
	})
}

// testDropRacesTake checks a drop by one replica racing a take by
// another (as when a replica's locks were lost), over a few rounds that
// start the drop later and later: one of them wins. A take that wins
// keeps a working sandbox (the drop is refused, or finds nothing left
// under the pool id); a drop that wins leaves nothing, and the take
// fails without a trace of its id.
func testDropRacesTake(t *testing.T, c *kubetest.Cluster, probe *kubetest.Probe) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, b := newDriver(t, awayConfig(c)), newDriver(t, awayConfig(c))
	for round := range 4 {
		suffix := strconv.Itoa(round) + strconv.FormatInt(time.Now().UnixNano(), 36)
		ps := runtime.PoolSpec{ID: "pool-drop" + suffix, Image: testImage, DiskMB: 64, CPU: 0.5, MemoryMB: 64}
		sp := runtime.Spec{ID: "dr" + suffix, Image: testImage, Entrypoint: []string{"sleep", "1000"}, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
		removeAtEnd(t, a, probe, ps, sp.ID)
		if err := a.Prepare(ctx, ps); err != nil {
			t.Fatalf("prepare: %v", err)
		}
		var dropErr, takeErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(round) * 25 * time.Millisecond) // later rounds let the take get further
			dropErr = a.DropPrepared(ctx, ps)
		}()
		go func() { defer wg.Done(); takeErr = b.Take(ctx, ps, sp) }()
		wg.Wait()
		switch {
		case takeErr == nil:
			// The drop is refused, or finds nothing left of the pool id
			// (pod and claim both relabelled): either way the sandbox is
			// the take's.
			if out, err := a.Exec(ctx, sp.ID, "echo", "alive"); err != nil || string(out) != "alive\n" {
				t.Fatalf("round %d: the take won (drop: %v) but its sandbox: %q %v", round, dropErr, out, err)
			}
			t.Logf("round %d: the take won; the drop: %v", round, dropErr)
		case dropErr == nil:
			if st, err := b.Recover(ctx, sp.ID); err != nil || st.State != runtime.StateMissing {
				t.Fatalf("round %d: the drop won (take: %v) but the take's id is %+v %v", round, takeErr, st, err)
			}
			if left, err := probe.Leftovers(ctx, a, ps.ID); err != nil || len(left) > 0 {
				t.Fatalf("round %d: the drop won but left %v %v", round, left, err)
			}
			t.Logf("round %d: the drop won; the take: %v", round, takeErr)
		default:
			t.Fatalf("round %d: neither won: drop %v, take %v", round, dropErr, takeErr)
		}
	}
}
