package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/trace"
)

// Create implements runtime.Runtime. The sandbox directory is made first,
// so that a Delete after a crash at any later step finds and removes
// whatever was done; a Create that finds such a directory without a
// running init (a create a crash cut short) removes it and starts over.
func (d *Driver) Create(ctx context.Context, s runtime.Spec) error {
	return d.create(ctx, s, nil)
}

// create boots s, or with pool, a sandbox prepared for a warm pool
// (Prepare).
func (d *Driver) create(ctx context.Context, s runtime.Spec, pool *runtime.PoolSpec) (err error) {
	if err := checkID(s.ID); err != nil {
		return err
	}
	defer d.locks.Lock(s.ID)()
	p := d.paths(s.ID)
	mkErr := os.Mkdir(p.dir, 0o711)
	if os.IsExist(mkErr) {
		if rec, lerr := loadRecord(p.record); lerr == nil && rec.initAlive() {
			return fmt.Errorf("sandbox %s: %w", s.ID, errdefs.ErrAlreadyExists)
		}
		d.log.Info("create starts over from what a cut-short create left", "id", s.ID)
		if err := d.destroy(ctx, s.ID, nil); err != nil {
			return fmt.Errorf("create %s: %w", s.ID, err)
		}
		mkErr = os.Mkdir(p.dir, 0o711)
	}
	if mkErr != nil {
		return mkErr
	}
	defer func() {
		if err != nil {
			if derr := d.destroy(context.WithoutCancel(ctx), s.ID, nil); derr != nil {
				d.log.Error("cleanup after failed create", "id", s.ID, "err", derr)
			}
		}
	}()
	mark := trace.Steps(ctx)
	img, err := d.cfg.Images(ctx, s.Image)
	if err != nil {
		return fmt.Errorf("create %s: image %s: %w", s.ID, s.Image, err)
	}
	mark("image-resolve")
	diskMB := s.DiskMB
	if diskMB <= 0 {
		diskMB = d.cfg.DefaultDiskMB
	}
	ids, err := d.ranges.claim(p.dir)
	if err != nil {
		return fmt.Errorf("create %s: %w", s.ID, err)
	}
	rec := &record{ID: s.ID, Runtime: d.cfg.Runtime, Image: img.Ref, Layers: img.Layers, Config: img.Config, DiskMB: diskMB, IDs: &ids, Pool: pool}
	if err := rec.save(p.record); err != nil {
		return err
	}
	if err := d.newDisk(ctx, p.diskImg, diskMB); err != nil {
		return fmt.Errorf("create %s: %w", s.ID, err)
	}
	mark("disk-new")
	if err := d.boot(ctx, p, s, rec); err != nil {
		return fmt.Errorf("create %s: %w", s.ID, err)
	}
	return nil
}

// Start implements runtime.Runtime: the kept disk is mounted again and a
// fresh container boots on it.
func (d *Driver) Start(ctx context.Context, s runtime.Spec) error {
	if err := checkID(s.ID); err != nil {
		return err
	}
	defer d.locks.Lock(s.ID)()
	p := d.paths(s.ID)
	rec, err := d.load(s.ID)
	if err != nil {
		return err
	}
	if rec.initAlive() {
		d.follow(s.ID, procID{rec.InitPID, rec.InitStart})
		return nil
	}
	d.unfollow(s.ID)
	// Whatever a crash or an outside kill left running or mounted goes
	// first; a clean Stop already did this.
	if !rec.Stopped {
		d.terminate(rec.key(), 0, 0)
		if err := d.teardown(ctx, p, rec); err != nil {
			return fmt.Errorf("start %s: %w", s.ID, err)
		}
	}
	if err := discardCheckpoint(p); err != nil {
		return fmt.Errorf("start %s: %w", s.ID, err)
	}
	if err := d.boot(ctx, p, s, rec); err != nil {
		_ = d.teardown(context.WithoutCancel(ctx), p, rec)
		return fmt.Errorf("start %s: %w", s.ID, err)
	}
	return nil
}

// boot mounts the sandbox's disk and root, and runs the container.
func (d *Driver) boot(ctx context.Context, p paths, s runtime.Spec, rec *record) error {
	mark := trace.Steps(ctx)
	// The network and the mounts share nothing: the namespace, veth and
	// rules are made while the disk and the root are mounted, so net-up's
	// span overlaps disk-mount's and rootfs-mount's, and net-wait is what
	// the network took beyond them.
	netErr := make(chan error, 1)
	go func() {
		netMark := trace.Steps(ctx)
		err := d.netUp(ctx, p, s, rec)
		if err == nil {
			netMark("net-up")
		}
		netErr <- err
	}()
	err := d.mountDisk(p.diskImg, p.disk)
	if err == nil {
		mark("disk-mount")
		if err = d.mountRootfsAs(p, rec.Layers, d.idsOf(rec)); err == nil {
			mark("rootfs-mount")
		}
	}
	if err := errors.Join(err, <-netErr); err != nil {
		return err
	}
	mark("net-wait")
	if err := d.writeSpec(p, s, rec); err != nil {
		return err
	}
	mark("spec-write")
	rec.Runtime = d.cfg.Runtime
	var extra []*os.File
	if d.runsc() {
		if err := d.prepareRunscAgent(p); err != nil {
			return err
		}
	} else {
		agentLn, err := d.listenAgentIn(p, rec)
		if err != nil {
			return err
		}
		defer agentLn.Close()
		extra = append(extra, agentLn)
	}
	if rec.Pool != nil {
		takeLn, err := listenSocket(p.takeSocket())
		if err != nil {
			return err
		}
		defer takeLn.Close()
		extra = append(extra, takeLn)
	}
	mark("agent-listen")
	pid, err := d.runDetached(ctx, p, rec.key(), extra...)
	if err != nil {
		return err
	}
	if err := hideRootfs(p); err != nil {
		return err
	}
	mark("runtime-run")
	if err := d.netAfterStart(ctx, p, s, rec, pid); err != nil {
		return err
	}
	mark("net-after-start")
	start, _, err := procStart(pid)
	if err != nil {
		return fmt.Errorf("init %d vanished at once: %w", pid, err)
	}
	rec.InitPID, rec.InitStart, rec.Stopped, rec.Reason = pid, start, false, ""
	if err := rec.save(p.record); err != nil {
		return err
	}
	mark("record-save")
	if rec.Pool == nil { // a prepared sandbox's end is nobody's news (Take checks it)
		d.follow(s.ID, procID{pid, start})
	}
	return nil
}

// Pause implements runtime.Runtime with a direct freezer write.
func (d *Driver) Pause(ctx context.Context, id string) error {
	return d.freeze(ctx, id, "FROZEN")
}

// Resume implements runtime.Runtime.
func (d *Driver) Resume(ctx context.Context, id string) error {
	return d.freeze(ctx, id, "THAWED")
}

func (d *Driver) freeze(ctx context.Context, id, state string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.locks.Lock(id)()
	rec, err := d.load(id)
	if err != nil {
		return err
	}
	// A checkpointed sandbox is paused already; its resume restores it.
	if m, err := loadCheckpoint(d.paths(id)); err != nil || m != nil {
		if err != nil || state == "FROZEN" {
			return err
		}
		if err := d.restoreLocked(ctx, id, rec); err != nil {
			return err
		}
	}
	if !rec.initAlive() {
		return fmt.Errorf("sandbox %s is not running: %w", id, errdefs.ErrConflict)
	}
	if d.runsc() {
		return d.runscPause(context.Background(), id, state)
	}
	return d.cg.setFreezer(rec.key(), state)
}

// Stop implements runtime.Runtime. A negative grace takes Config.StopGrace.
func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	if err := checkID(id); err != nil {
		return err
	}
	if grace < 0 {
		grace = d.cfg.StopGrace
	}
	defer d.locks.Lock(id)()
	rec, err := d.load(id)
	if err != nil {
		return err
	}
	p := d.paths(id)
	d.unfollow(id) // its end is asked for, not news
	if rec.initAlive() {
		d.terminate(rec.key(), rec.InitPID, grace)
	}
	if status, ok := d.reap(rec); ok && rec.Reason == "" && !rec.Stopped {
		d.log.Debug("sandbox init exited", "id", id, "status", status)
	}
	if err := d.teardown(ctx, p, rec); err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if err := discardCheckpoint(p); err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	rec.Stopped, rec.InitPID, rec.InitStart = true, 0, 0
	return rec.save(p.record)
}

// terminate sends SIGTERM to every process of the sandbox whose cgroups
// key names, and SIGKILL to what is left after grace; it returns when the
// cgroup is empty.
//
// The kernel drops a signal to a namespace's PID 1 that has no handler,
// and a sandbox stopped right after it was created may have an init that
// has not installed its handlers yet: init gets SIGTERM again once it has.
func (d *Driver) terminate(id string, initPID int, grace time.Duration) {
	if d.cg.frozen(id) {
		_ = d.cg.setFreezer(id, "THAWED") // a frozen task cannot act on SIGTERM
	}
	if grace > 0 {
		initHeard := initPID <= 0 || catches(initPID, syscall.SIGTERM)
		d.signalTerm(id)
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) {
			if d.waitEmpty(id, 10*time.Millisecond) {
				return
			}
			if !initHeard && catches(initPID, syscall.SIGTERM) {
				_ = syscall.Kill(initPID, syscall.SIGTERM)
				initHeard = true
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d.cg.signalAll(id, syscall.SIGKILL) // again: a fork may race the first kill
		if d.waitEmpty(id, 100*time.Millisecond) {
			return
		}
	}
	d.log.Error("sandbox processes survive SIGKILL", "id", id)
}

// catches reports whether pid has a handler for sig (SigCgt in its status).
func catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

func (d *Driver) waitEmpty(id string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if len(d.cg.procs(id)) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reap returns the exit status of the sandbox's init when it was a child
// of this process (the driver is a subreaper) and has ended: the reaper
// kept it, or reaps the zombie now.
func (d *Driver) reap(rec *record) (int, bool) {
	if rec.InitPID <= 0 {
		return 0, false
	}
	return d.reaper.exitStatus(procID{rec.InitPID, rec.InitStart})
}

// teardown removes the container, its cgroups and its mounts, keeping the
// sandbox directory and disk image. It expects no process left.
func (d *Driver) teardown(ctx context.Context, p paths, rec *record) error {
	var errs []error
	d.reaper.sweep() // what the sandbox's end left to this subreaper
	rt := d.cfg.Runtime
	if rec != nil && rec.Runtime != "" {
		rt = rec.Runtime
	}
	if err := d.deleteContainer(ctx, rt, rec.idOr(p)); err != nil {
		errs = append(errs, err)
	}
	if err := d.cg.remove(rec.idOr(p)); err != nil {
		errs = append(errs, err)
	}
	// A mounted disk lets its loop device go when it is unmounted (auto
	// clear); only one attached but never mounted needs the search of
	// every loop device on the host for its image.
	attached := !isMountPoint(p.disk)
	lazy, err := unmountAll(p.dir)
	if err != nil {
		errs = append(errs, err)
	}
	switch {
	case attached:
		detachLoops(p.diskImg)
	case lazy:
		// The disk stays mounted, unseen, until its last user goes; a
		// start that mounted the image again meanwhile would put a second
		// ext4 over it that misses what the first has not written back.
		if err := waitDiskReleased(ctx, p.diskImg, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Delete implements runtime.Runtime. It works from whatever is on disk:
// a record, a half-made sandbox directory, or nothing at all.
func (d *Driver) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.locks.Lock(id)()
	rec, err := d.load(id)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		rec = nil // unreadable record: clean up by name
	}
	return d.destroy(ctx, id, rec)
}

func (d *Driver) destroy(ctx context.Context, id string, rec *record) error {
	p := d.paths(id)
	if rec == nil {
		rec, _ = loadRecord(p.record)
	}
	d.unfollow(id)
	key := rec.idOr(p)
	d.terminate(key, 0, 0)
	if rec != nil {
		d.reap(rec)
	}
	// The network comes down while the container does: they share
	// nothing, and each waits mostly on the kernel (an RCU grace period,
	// unmounts) or on a binary (iptables, the runtime).
	netErr := make(chan error, 1)
	go func() { netErr <- d.netDown(key) }()
	err := errors.Join(d.teardown(ctx, p, rec), <-netErr)
	if err == nil {
		err = os.RemoveAll(p.dir)
	}
	if err == nil && rec != nil && rec.IDs != nil {
		err = d.ranges.release(*rec.IDs, p.dir) // its files are gone: the range is free
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// load reads the sandbox's record; a sandbox without one does not exist.
func (d *Driver) load(id string) (*record, error) {
	rec, err := loadRecord(d.paths(id).record)
	if errors.Is(err, errNoRecord) {
		return nil, errNotFound(id)
	}
	return rec, err
}

// idOr is the key of the sandbox at p: its record's, or for a sandbox
// without one, the name of its directory.
func (r *record) idOr(p paths) string {
	if r != nil && r.key() != "" {
		return r.key()
	}
	return filepath.Base(p.dir)
}

// Exec runs argv in a running sandbox and returns its combined output. It
// is not part of runtime.Runtime (the agent serves commands); tests and
// tools use it to look inside.
func (d *Driver) Exec(ctx context.Context, id string, argv ...string) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	key := id
	if rec, err := d.load(id); err == nil {
		key = rec.key()
	}
	args := append(append(d.globalArgs(d.cfg.Runtime, d.runtimeRoot()), "exec", key), argv...)
	return d.reaper.combinedOutput(exec.CommandContext(ctx, d.binary, args...))
}

// InitPID returns the host pid of the sandbox's init, for tools that look
// at the sandbox from the host (its /proc/<pid>/root, its namespaces).
func (d *Driver) InitPID(id string) (int, error) {
	if err := checkID(id); err != nil {
		return 0, err
	}
	rec, err := d.load(id)
	if err != nil {
		return 0, err
	}
	if !rec.initAlive() {
		return 0, fmt.Errorf("sandbox %s is not running: %w", id, errdefs.ErrConflict)
	}
	return rec.InitPID, nil
}
