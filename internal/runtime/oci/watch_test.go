package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// testSpec is a small sandbox on the internal driver's image.
func testSpec(name string) runtime.Spec {
	return runtime.Spec{ID: name + strconv.FormatInt(time.Now().UnixNano()%1e9, 36), Image: "x", DiskMB: 32}
}

// create makes a sandbox that the test deletes, whatever happens.
func create(t *testing.T, d *Driver, s runtime.Spec) {
	t.Helper()
	t.Cleanup(func() {
		if err := d.Delete(context.Background(), s.ID); err != nil {
			t.Errorf("delete %s: %v", s.ID, err)
		}
		ocitest.AssertGone(t, s.ID)
	})
	if err := d.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// TestLifecyclesLeaveNoProcess runs full lifecycles and checks that this
// process (the subreaper) is left with no child it did not have before,
// zombie or not, and the host with nothing of any sandbox.
func TestLifecyclesLeaveNoProcess(t *testing.T) {
	d := newInternalDriver(t)
	ctx := context.Background()
	before := len(childPIDs())
	for i := range 10 {
		s := testSpec(fmt.Sprintf("cycle%d-", i))
		create(t, d, s)
		for _, step := range []func() error{
			func() error { return d.Pause(ctx, s.ID) },
			func() error { return d.Resume(ctx, s.ID) },
			func() error { return d.Stop(ctx, s.ID, 0) },
			func() error { return d.Start(ctx, s) },
			func() error { return d.Delete(ctx, s.ID) },
		} {
			if err := step(); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
		}
		ocitest.AssertGone(t, s.ID)
	}
	var left []string
	if !poll.Wait(10*time.Second, func() bool {
		left = nil
		for _, pid := range childPIDs() {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			left = append(left, strings.TrimSpace(string(b)))
		}
		return len(left) <= before
	}) {
		t.Fatalf("10 lifecycles left %d children (had %d):\n%s", len(left), before, strings.Join(left, "\n"))
	}
}

// TestWatchReportsOwnEndsOnly checks that Watch reports a sandbox whose
// init was killed, and not one the driver was asked to stop, and that the
// killed one is then recovered as stopped with its exit status.
func TestWatchReportsOwnEndsOnly(t *testing.T) {
	d := newInternalDriver(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stopped, killed := testSpec("stopped-"), testSpec("killed-")
	create(t, d, stopped)
	create(t, d, killed)
	ends := d.Watch(ctx)
	if err := d.Stop(ctx, stopped.ID, 0); err != nil {
		t.Fatal(err)
	}
	pid, err := d.InitPID(killed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-ends:
		if e.ID != killed.ID {
			t.Fatalf("Watch reported %s, want only the killed %s", e.ID, killed.ID)
		}
	case <-time.After(poll.Timeout):
		t.Fatal("Watch never reported the killed sandbox")
	}
	st, err := d.Recover(ctx, killed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != runtime.StateStopped || st.Reason != "exited with status 137 (signal 9)" {
		t.Fatalf("recover of the killed sandbox: %+v", st)
	}
	// A start watches the new init: killing it is reported again.
	if err := d.Start(ctx, killed); err != nil {
		t.Fatal(err)
	}
	if pid, err = d.InitPID(killed.ID); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	select {
	case e := <-ends:
		if e.ID != killed.ID {
			t.Fatalf("Watch reported %s after the restart", e.ID)
		}
	case <-time.After(poll.Timeout):
		t.Fatal("Watch never reported the restarted sandbox's end")
	}
}

// TestInitRanksBelowItsChildren checks the OOM killer's order inside a
// sandbox: init and its agent run initproc.UserOOMScoreBonus below the
// server's value (never above it) where the server may lower a value, at
// it where not.
func TestInitRanksBelowItsChildren(t *testing.T) {
	d := newInternalDriver(t)
	s := testSpec("oom-")
	create(t, d, s)
	pid, err := d.InitPID(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Init is raised only for the moment it starts a child; it settles
	// back at the value the spec gave it.
	want := *initOOMScoreAdj()
	if _, lowers := oomLowerer(); lowers && want >= 0 {
		t.Fatalf("init's oom_score_adj %d is not below zero with CAP_SYS_RESOURCE", want)
	}
	poll.Until(t, fmt.Sprintf("init's oom_score_adj to settle at %d", want), func() bool { return readAdj(t, pid) == want })
	var kids []string
	poll.Until(t, "init to start its agent", func() bool {
		kids = nil
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			kids = append(kids, strings.Fields(string(b))...)
		}
		return len(kids) > 0
	})
	for _, k := range kids {
		kid, _ := strconv.Atoi(k)
		if got := readAdj(t, kid); got != want {
			t.Errorf("init's agent %d has oom_score_adj %d, want init's %d", kid, got, want)
		}
	}
	out, err := d.Exec(context.Background(), s.ID, "cat", "/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != strconv.Itoa(sandboxOOMScoreAdj()) {
		t.Errorf("a process exec'd in the sandbox has oom_score_adj %s, want %d", got, sandboxOOMScoreAdj())
	}
}

func readAdj(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCreateStartsOver leaves a sandbox as a server killed mid-create
// would (its directory, disk, mounts and network made, its container
// running, no init in the record) and checks that a new driver's Create
// of the same sandbox removes all that and boots it, while a Create of a
// running sandbox is refused.
func TestCreateStartsOver(t *testing.T) {
	d := newInternalDriver(t)
	ctx := context.Background()
	s := testSpec("redo-")
	create(t, d, s)
	p := d.paths(s.ID)
	rec, err := loadRecord(p.record)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, s); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("Create of a running sandbox = %v, want ErrAlreadyExists", err)
	}
	cut := *rec
	cut.InitPID, cut.InitStart = 0, 0
	if err := cut.save(p.record); err != nil {
		t.Fatal(err)
	}
	d2 := newInternalDriverOn(t, d)
	if err := d2.Create(ctx, s); err != nil {
		t.Fatalf("Create after a cut-short create: %v", err)
	}
	pid, err := d2.InitPID(s.ID)
	if err != nil || pid == rec.InitPID {
		t.Fatalf("init after the redo = %d, %v (the old one was %d)", pid, err, rec.InitPID)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", rec.InitPID)); err == nil {
		if st, _ := readProcStat(rec.InitPID); !st.zombie {
			t.Fatalf("the cut-short create's init %d still runs", rec.InitPID)
		}
	}
	if out, err := d2.Exec(ctx, s.ID, "cat", "/etc/passwd"); err != nil || !strings.Contains(string(out), "root") {
		t.Fatalf("exec in the redone sandbox: %q %v", out, err)
	}
	// Only the directory: everything else of it is gone too.
	if err := d2.Stop(ctx, s.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p.record); err != nil {
		t.Fatal(err)
	}
	if err := d2.Create(ctx, s); err != nil {
		t.Fatalf("Create over a directory without a record: %v", err)
	}
}
