package oci

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
)

// prepareForTest prepares a sandbox named prefix plus this pid, removed
// at the test's end with whatever it became.
func prepareForTest(t *testing.T, d *Driver, prefix string) runtime.PoolSpec {
	t.Helper()
	ps := runtime.PoolSpec{ID: prefix + strconv.Itoa(os.Getpid()), DiskMB: 64}
	t.Cleanup(func() { _ = d.DropPrepared(context.Background(), ps) })
	if err := d.Prepare(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestPreparedRemovesHalfTaken leaves a prepared sandbox as a crash
// between a take's record and its rename does (the record names the
// user's id, the dir the pool's): a restarted driver does not list it,
// removes everything it had, and the user's id does not exist.
func TestPreparedRemovesHalfTaken(t *testing.T) {
	d := newInternalDriver(t)
	ctx := context.Background()
	ps := prepareForTest(t, d, "halfpool")
	user := "halfuser" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { _ = d.Delete(ctx, user) })
	rec, err := d.load(ps.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.ID, rec.Key, rec.Pool = user, ps.ID, nil
	if err := rec.save(d.paths(ps.ID).record); err != nil {
		t.Fatal(err)
	}

	d2 := newInternalDriverOn(t, d)
	got, err := d2.Prepared(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("prepared = %v, %v; want none", got, err)
	}
	if _, err := os.Stat(d.paths(ps.ID).dir); !os.IsNotExist(err) {
		t.Errorf("the half-taken sandbox's dir is still there: %v", err)
	}
	if procs := d.cg.procs(ps.ID); len(procs) != 0 {
		t.Errorf("processes left: %v", procs)
	}
	if _, err := os.Stat(d.net.NetnsPath(ps.ID)); !os.IsNotExist(err) {
		t.Errorf("network namespace left: %v", err)
	}
	if _, err := os.Stat(d.ranges.path(*rec.IDs)); !os.IsNotExist(err) {
		t.Errorf("uid range still claimed: %v", err)
	}
	if st, err := d2.Recover(ctx, user); err != nil || st.State != runtime.StateMissing {
		t.Errorf("recover %s = %+v, %v; want missing", user, st, err)
	}
}

// TestRecoverAdoptsMovedRange leaves a taken sandbox as a crash between
// its dir's rename and the uid-range registry's update does (the claim
// names the gone pool dir, so another server could take the range): the
// next Recover names the sandbox's dir in the claim again.
func TestRecoverAdoptsMovedRange(t *testing.T) {
	d := newInternalDriver(t)
	ctx := context.Background()
	ps := prepareForTest(t, d, "movepool")
	s := runtime.Spec{ID: "moveuser" + strconv.Itoa(os.Getpid()), DiskMB: 64}
	t.Cleanup(func() { _ = d.Delete(ctx, s.ID) })
	if err := d.Take(ctx, ps, s); err != nil {
		t.Fatal(err)
	}
	rec, err := d.load(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	claim := d.ranges.path(*rec.IDs)
	if b, err := os.ReadFile(claim); err != nil || string(b) != d.paths(s.ID).dir {
		t.Fatalf("after take the claim names %q (%v), want %s", b, err, d.paths(s.ID).dir)
	}
	if err := os.WriteFile(claim, []byte(d.paths(ps.ID).dir), 0o600); err != nil {
		t.Fatal(err)
	}
	d2 := newInternalDriverOn(t, d)
	if st, err := d2.Recover(ctx, s.ID); err != nil || st.State != runtime.StateRunning {
		t.Fatalf("recover = %+v, %v", st, err)
	}
	if b, err := os.ReadFile(claim); err != nil || string(b) != d.paths(s.ID).dir {
		t.Errorf("after recover the claim names %q (%v), want %s", b, err, d.paths(s.ID).dir)
	}
}

// TestTakenCheckpointRestore checkpoints and restores a taken sandbox
// by its own id, though its cgroups and network bear the pool's: its
// processes leave meanwhile and count on afterwards, with the user's env.
func TestTakenCheckpointRestore(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	ps := prepareForTest(t, d, "ckptpool")
	s := runtime.Spec{ID: "ckpttaken" + strconv.Itoa(os.Getpid()), DiskMB: 64, Env: map[string]string{"FOO": "bar"},
		Entrypoint: []string{"/bin/sh", "-c", `i=0; while true; do i=$((i+1)); echo "$FOO $i" > /tmp/count; sleep 0.05; done`}}
	t.Cleanup(func() { _ = d.Delete(ctx, s.ID) })
	if err := d.Take(ctx, ps, s); err != nil {
		t.Fatal(err)
	}
	count := func() (foo string, n int) {
		rec, err := d.load(s.ID)
		if err != nil || !rec.initAlive() {
			return "", 0
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/tmp/count", rec.InitPID))
		fmt.Sscanf(string(b), "%s %d", &foo, &n)
		return foo, n
	}
	var before int
	poll.Until(t, "the taken sandbox to count", func() bool { _, before = count(); return before > 0 })
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if procs := d.cg.procs(ps.ID); len(procs) != 0 {
		t.Errorf("checkpointed, processes left: %v", procs)
	}
	if err := d.Resume(ctx, s.ID); err != nil {
		t.Fatalf("resume (restore): %v", err)
	}
	poll.Until(t, "the restored sandbox to count on", func() bool {
		foo, n := count()
		return foo == "bar" && n > before
	})
}
