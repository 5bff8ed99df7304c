package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/trace"
)

// takeTimeout bounds the exchange with a prepared sandbox's init.
const takeTimeout = 10 * time.Second

// Take implements runtime.Pooler. Nothing on the way execs a binary: the
// limits are cgroup file writes, the policy is left alone when it is the
// prepared one (the default), and init gets the workload over the take
// socket it listens on. The steps are ordered for a crash at any point:
// the record names the user's id before init is told, and the rename of
// the sandbox dir to that id is the commit. Before it, Recover of the
// user's id finds nothing and Prepared removes the half-taken sandbox;
// after it, the sandbox is the user's, its workload started.
func (d *Driver) Take(ctx context.Context, ps runtime.PoolSpec, s runtime.Spec) (err error) {
	if err := d.poolUnsupported("take " + ps.ID); err != nil {
		return err
	}
	if err := checkID(ps.ID); err != nil {
		return err
	}
	defer d.locks.Lock(ps.ID)()
	from := d.paths(ps.ID)
	rec, err := d.load(ps.ID)
	if err != nil {
		return err
	}
	if rec.Pool == nil || rec.ID != ps.ID {
		return fmt.Errorf("sandbox %s is not a prepared one: %w", ps.ID, errdefs.ErrConflict)
	}
	renamed := false
	defer func() {
		if err == nil {
			return
		}
		id := ps.ID
		if renamed {
			id = s.ID
		}
		if derr := d.destroy(context.WithoutCancel(ctx), id, rec); derr != nil {
			d.log.Error("cleanup after failed take", "prepared", ps.ID, "id", s.ID, "err", derr)
		}
	}()
	// From here on, a failure removes the prepared sandbox.
	if err := checkID(s.ID); err != nil {
		return err
	}
	if ps.ID == s.ID {
		return errdefs.InvalidField("id", "a sandbox cannot take its own prepared id %q", s.ID)
	}
	if s.Image != rec.Pool.Image || (s.DiskMB > 0 && s.DiskMB != rec.DiskMB) {
		return errdefs.InvalidField("image", "sandbox %s (%s, %d MB) cannot take %s, prepared with %s and %d MB",
			s.ID, s.Image, s.DiskMB, ps.ID, rec.Pool.Image, rec.DiskMB)
	}
	defer d.locks.Lock(s.ID)()
	to := d.paths(s.ID)
	if !rec.initAlive() {
		return fmt.Errorf("take %s: the prepared sandbox's init is gone: %w", ps.ID, errdefs.ErrConflict)
	}
	mark := trace.Steps(ctx)
	if err := d.clearTarget(ctx, s.ID, to); err != nil {
		return err
	}
	mark("take-check")
	if err := d.cg.setLimits(ps.ID, specLimits(s)); err != nil {
		return fmt.Errorf("take %s: limits: %w", s.ID, err)
	}
	mark("take-limits")
	if pol := policyOf(s); rec.Net != nil && !samePolicy(rec.Net.Policy, pol) {
		a, err := d.net.SetPolicy(ctx, ps.ID, rec.Net, pol)
		if err != nil {
			return fmt.Errorf("take %s: %w", s.ID, err)
		}
		rec.Net = a
	}
	mark("take-policy")
	rec.ID, rec.Key, rec.Pool = s.ID, ps.ID, nil
	if err := rec.save(from.record); err != nil {
		return err
	}
	mark("take-record")
	if err := setHostname(rec.InitPID, hostnameOf(s.ID)); err != nil {
		return fmt.Errorf("take %s: hostname: %w", s.ID, err)
	}
	mark("take-hostname")
	req := initproc.TakeRequest{Args: entrypoint(s, rec), Env: buildEnv(rec.Config.Env, s.Env), Cwd: workingDir(rec)}
	if err := sendTake(ctx, from.takeSocket(), req); err != nil {
		return fmt.Errorf("take %s: %w", s.ID, err)
	}
	mark("take-init")
	if err := d.ranges.move(d.idsOf(rec), from.dir, to.dir); err != nil {
		return fmt.Errorf("take %s: %w", s.ID, err)
	}
	mark("take-rename")
	renamed = true
	_ = os.Remove(to.takeSocket()) // init closed it
	d.follow(s.ID, procID{rec.InitPID, rec.InitStart})
	return nil
}

// clearTarget makes sure nothing is at sandbox id: a running sandbox is
// a conflict, what a cut-short create left is removed (as Create does).
func (d *Driver) clearTarget(ctx context.Context, id string, p paths) error {
	if _, err := os.Lstat(p.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if rec, err := loadRecord(p.record); err == nil && rec.initAlive() {
		return fmt.Errorf("sandbox %s: %w", id, errdefs.ErrAlreadyExists)
	}
	return d.destroy(ctx, id, nil)
}

// samePolicy reports whether two policies make the same rules.
func samePolicy(a, b network.Policy) bool {
	return a.Internet == b.Internet && slices.Equal(a.AllowCIDRs, b.AllowCIDRs) && slices.Equal(a.DenyCIDRs, b.DenyCIDRs)
}

// sendTake hands init its workload over the socket at path and waits for
// its answer: the workload started, and the agent restarted with the new
// environment.
func sendTake(ctx context.Context, path string, req initproc.TakeRequest) error {
	addr, done, err := shortPath(path)
	if err != nil {
		return err
	}
	defer done()
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "unix", addr)
	if err != nil {
		return fmt.Errorf("init's take socket: %w", err)
	}
	defer c.Close()
	deadline := time.Now().Add(takeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("init's take socket: %w", err)
	}
	var rep initproc.TakeReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return fmt.Errorf("init's answer: %w", err)
	}
	if rep.Error != "" {
		return fmt.Errorf("init: %s", rep.Error)
	}
	return nil
}

// setHostname sets the hostname in the UTS namespace of pid, from a
// thread that enters it and is thrown away (as inNetns): the sandbox's
// init lacks CAP_SYS_ADMIN, which sethostname takes.
func setHostname(pid int, name string) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/uts", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWUTS); err != nil {
			errc <- err
			return
		}
		errc <- unix.Sethostname([]byte(name))
	}()
	return <-errc
}

// setLimits writes the sandbox's CPU, memory and pids limits straight to
// its cgroup files, as the runtime wrote them at boot. Memory and its
// memory+swap twin are written in the order the kernel accepts (the
// first may never exceed the second).
func (c *cgroupFS) setLimits(key string, l limits) error {
	mem := strconv.FormatInt(l.memoryMB<<20, 10)
	memFiles := []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
	if cur, err := c.readInt("memory", key, "memory.limit_in_bytes"); err == nil && cur < l.memoryMB<<20 {
		slices.Reverse(memFiles)
	}
	var errs []error
	for _, f := range memFiles {
		err := os.WriteFile(filepath.Join(c.path("memory", key), f), []byte(mem), 0)
		if err != nil && !(f == "memory.memsw.limit_in_bytes" && errors.Is(err, os.ErrNotExist)) {
			errs = append(errs, err)
		}
	}
	quota := strconv.FormatInt(int64(l.cpu*100000), 10)
	errs = append(errs,
		os.WriteFile(filepath.Join(c.path("cpu", key), "cpu.cfs_quota_us"), []byte(quota), 0),
		os.WriteFile(filepath.Join(c.path("pids", key), "pids.max"), []byte(strconv.FormatInt(l.pids, 10)), 0))
	return errors.Join(errs...)
}
