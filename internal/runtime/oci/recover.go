package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Recover implements runtime.Runtime. The record on disk names the init
// process; /proc and the freezer say whether it runs or is frozen. A
// sandbox whose init died is torn down to a clean stopped state (its
// memory and cgroups freed, its disk kept) and the reason is kept in the
// record, so that it is reported the same way on every later Recover.
func (d *Driver) Recover(ctx context.Context, id string) (runtime.Status, error) {
	if err := checkID(id); err != nil {
		return runtime.Status{}, err
	}
	defer d.locks.Lock(id)()
	p := d.paths(id)
	rec, err := d.load(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		if _, serr := os.Stat(p.dir); serr == nil {
			return runtime.Status{State: runtime.StateMissing, Reason: "create did not complete"}, nil
		}
		return runtime.Status{State: runtime.StateMissing}, nil
	}
	if err != nil {
		return runtime.Status{}, err
	}
	if rec.Stopped {
		return runtime.Status{State: runtime.StateStopped, Reason: rec.Reason}, nil
	}
	if m, err := loadCheckpoint(p); err != nil || (m != nil && !rec.initAlive()) {
		return runtime.Status{State: runtime.StatePaused}, err // its memory is on disk
	}
	if rec.Key != "" && rec.IDs != nil {
		// taken from a warm pool: a crash may have cut its dir's rename
		// from the registry's update (idRanges.move)
		if err := d.ranges.adopt(*rec.IDs, p.dir); err != nil {
			d.log.Error("recover: id range", "id", id, "err", err)
		}
	}
	if rec.initAlive() {
		d.follow(id, procID{rec.InitPID, rec.InitStart})
		d.netRecover(ctx, id, rec)
		d.guardRunning(id, p, rec)
		if d.runsc() {
			d.thawRunscFreezer(id)
		}
		if d.paused(ctx, rec.key()) {
			return runtime.Status{State: runtime.StatePaused}, nil
		}
		return runtime.Status{State: runtime.StateRunning}, nil
	}
	d.unfollow(id)
	reason := d.deathReason(id, p, rec)
	d.terminate(rec.key(), 0, 0) // whatever outlived its init
	if err := d.teardown(ctx, p, rec); err != nil {
		return runtime.Status{}, fmt.Errorf("recover %s: %w", id, err)
	}
	rec.Stopped, rec.Reason, rec.InitPID, rec.InitStart = true, reason, 0, 0
	if err := rec.save(p.record); err != nil {
		return runtime.Status{}, err
	}
	d.log.Info("sandbox found stopped", "id", id, "reason", reason)
	return runtime.Status{State: runtime.StateStopped, Reason: reason}, nil
}

// deathReason explains why a sandbox's init is gone, best source first:
// the memory cgroup's OOM counter, the exit status this process reaped,
// the status the init wrote to the log, or just that it vanished (a kill
// from outside while no server was its parent).
func (d *Driver) deathReason(id string, p paths, rec *record) string {
	if d.cg.oomKills(rec.key()) > 0 {
		return "oom-killed"
	}
	if status, ok := d.reap(rec); ok {
		return describeExit(status)
	}
	if status, ok := loggedExit(p); ok {
		return describeExit(status)
	}
	return "init process ended (exit status unknown)"
}

func describeExit(status int) string {
	if status > 128 {
		return fmt.Sprintf("exited with status %d (signal %d)", status, status-128)
	}
	return fmt.Sprintf("exited with status %d", status)
}

// loggedExit finds the last exit status the init wrote to its console
// log (on the sandbox's disk, or in the host-side log of a sandbox an
// older init started). The sandbox can write that log too, so the status
// only ever explains an end, it decides nothing.
func loggedExit(p paths) (int, bool) {
	const tail = 4096
	b, err := consoleTail(p, tail)
	if err != nil || !strings.Contains(string(b), initproc.ExitMarker) {
		if b, err = hostLogTail(p.log, tail); err != nil {
			return 0, false
		}
	}
	s := string(b)
	i := strings.LastIndex(s, initproc.ExitMarker)
	if i < 0 {
		return 0, false
	}
	var status int
	if _, err := fmt.Sscanf(s[i+len(initproc.ExitMarker):], "%d", &status); err != nil {
		return 0, false
	}
	return status, true
}

func hostLogTail(path string, tail int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-tail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}
