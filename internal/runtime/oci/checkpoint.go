package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/mountinfo"
	"github.com/hutchdev/hutch/internal/runtime"
)

// The driver checkpoints with the criu binary directly rather than
// through "runc checkpoint": crun (the default) is built without CRIU,
// and what makes a sandbox (its overlay root over idmapped layers, its
// network namespace, the agent's listener passed in by fd) is the
// driver's, not the OCI runtime's, so only the driver can tell CRIU which
// of it stays outside the image and hand it back on restore.
//
// A checkpointed sandbox keeps its cgroups (their limits stay, their
// memory is freed), its mounts and its network namespace; its processes
// are gone and its directory holds the image, with meta.json written
// last: a sandbox is checkpointed exactly when that file exists.

var _ runtime.Checkpointer = (*Driver)(nil)

// checkpointMeta is what a restore needs besides CRIU's images.
type checkpointMeta struct {
	Time      time.Time `json:"time"`
	SizeBytes int64     `json:"sizeBytes"`
	// AgentSocket is the inode of the agent's listener at dump; the
	// restore hands a fresh listener in its place.
	AgentSocket uint64 `json:"agentSocket"`
	// Files are host files the sandbox held open (the console log of an
	// older init), reopened on restore.
	Files []externalFile `json:"files,omitempty"`
}

// externalFile is one host file a sandbox process held open: CRIU's key
// for it and how to open it again.
type externalFile struct {
	Key   string `json:"key"`
	Path  string `json:"path"`
	Flags int    `json:"flags"`
}

func (p paths) checkpointDir() string  { return filepath.Join(p.dir, "checkpoint") }
func (p paths) checkpointMeta() string { return filepath.Join(p.checkpointDir(), "meta.json") }
func (p paths) agentInode() string     { return filepath.Join(p.dir, "agent.ino") }

// loadCheckpoint returns the sandbox's checkpoint, or nil when it has none.
func loadCheckpoint(p paths) (*checkpointMeta, error) {
	b, err := os.ReadFile(p.checkpointMeta())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m checkpointMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p.checkpointMeta(), err)
	}
	return &m, nil
}

// checkpointUnsupported says why this driver cannot checkpoint, or "".
func (d *Driver) checkpointUnsupported() string {
	switch {
	case d.runsc():
		return "gVisor sandboxes checkpoint through runsc (the gvisor driver)"
	case d.criu == "":
		return d.criuMissing
	case !d.joinsNetns():
		return "sandboxes run by runc 1.1 make their own network namespace, outside which the agent listens; CRIU cannot dump that listener (run with crun)"
	}
	return ""
}

// Missing tells, for a capability this driver implements but does not
// declare, what the host lacks.
func (d *Driver) Missing(capability string) string {
	switch {
	case capability == "Checkpoint":
		return d.checkpointUnsupported()
	case capability == "Pool" && d.runsc():
		return noPoolUnderRunsc
	}
	return ""
}

// Checkpoint implements runtime.Checkpointer: the sandbox is frozen (if it
// was not), its processes are written to its directory by CRIU and end.
func (d *Driver) Checkpoint(ctx context.Context, id string) (int64, error) {
	if err := checkID(id); err != nil {
		return 0, err
	}
	if why := d.checkpointUnsupported(); why != "" {
		return 0, fmt.Errorf("checkpoint %s: %s: %w", id, why, errdefs.ErrNotImplemented)
	}
	defer d.locks.Lock(id)()
	p := d.paths(id)
	rec, err := d.load(id)
	if err != nil {
		return 0, err
	}
	if m, err := loadCheckpoint(p); err != nil || m != nil {
		if m != nil {
			return m.SizeBytes, nil // done already
		}
		return 0, err
	}
	if !rec.initAlive() {
		return 0, fmt.Errorf("sandbox %s is not running: %w", id, errdefs.ErrConflict)
	}
	if rec.Net == nil {
		return 0, fmt.Errorf("checkpoint %s: the sandbox has no network namespace of its own", id)
	}
	if err := d.waitInitExec(ctx, rec); err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", id, err)
	}
	if !d.cg.frozen(rec.key()) {
		if err := d.cg.setFreezer(rec.key(), "FROZEN"); err != nil {
			return 0, err
		}
	}
	if spells, err := d.settleVforks(rec.key()); err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", id, err)
	} else if spells > 0 {
		d.log.Info("checkpoint: waited for the sandbox's vforks to execute", "id", id, "spells", spells)
	}
	agentIno, err := readAgentInode(p)
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", id, err)
	}
	meta := checkpointMeta{AgentSocket: agentIno}
	if meta.Files, err = hostFiles(p, d.cg.procs(rec.key())); err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", id, err)
	}
	work := p.checkpointDir() + ".new"
	if err := os.RemoveAll(work); err != nil {
		return 0, err
	}
	// 0711: CRIU looks for optional images from inside the user namespace.
	if err := os.Mkdir(work, 0o711); err != nil {
		return 0, err
	}
	args := []string{"dump", "--tree", strconv.Itoa(rec.InitPID), "--images-dir", work, "--log-file", "dump.log",
		"--freeze-cgroup", d.cg.path("freezer", rec.key()), "--tcp-close", "--file-locks", "--link-remap",
		"--ghost-limit", "64M", "--external", "mnt[/sys]:sys", "--external", "mnt[]"}
	for _, f := range meta.Files {
		args = append(args, "--external", f.Key)
	}
	d.agentConns.closeAll(id)
	d.unfollow(id) // its end is asked for, not news
	start := time.Now()
	dumpLog := filepath.Join(work, "dump.log")
	err = d.criuRun(ctx, rec.Net.Netns, dumpLog, nil, args...)
	if err != nil && inFlight(dumpLog) {
		// A connection to the agent that the host closed before the
		// frozen agent accepted it: CRIU cannot dump it. A moment thawed
		// lets the agent accept it and see it closed; then again.
		if err = d.thawBriefly(rec.key()); err == nil {
			err = d.criuRun(ctx, rec.Net.Netns, dumpLog, nil, args...)
		}
	}
	if err != nil && stuckTask(dumpLog) {
		// A task stayed in uninterruptible sleep past CRIU's wait: a vfork
		// that began after settleVforks looked, or stalled I/O. The failed
		// dump left everything as it was, frozen; the sandbox runs a
		// moment to end the wait, then one more try.
		d.log.Warn("checkpoint: a task was unseizable, dumping again", "id", id, "vforking", d.cg.vforking(rec.key()))
		if _, err = d.settleVforks(rec.key()); err == nil {
			err = d.thawFor(rec.key(), 200*time.Millisecond)
		}
		if err == nil {
			err = d.criuRun(ctx, rec.Net.Netns, dumpLog, nil, args...)
		}
	}
	if err != nil {
		// A failed dump leaves the processes as they were: still frozen.
		d.follow(id, procID{rec.InitPID, rec.InitStart})
		return 0, fmt.Errorf("checkpoint %s: %w", id, err)
	}
	d.reaper.sweep()
	meta.Time = time.Now().UTC()
	if meta.SizeBytes, err = imageSize(work); err != nil {
		return 0, err
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(work, "meta.json"), b, 0o600); err != nil {
		return 0, err
	}
	if err := os.Rename(work, p.checkpointDir()); err != nil {
		return 0, err
	}
	d.log.Info("sandbox checkpointed", "id", id, "bytes", meta.SizeBytes, "took", time.Since(start))
	return meta.SizeBytes, nil
}

// Restore implements runtime.Checkpointer: the sandbox's processes come
// back from its checkpoint, frozen, and the image is removed.
func (d *Driver) Restore(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.locks.Lock(id)()
	rec, err := d.load(id)
	if err != nil {
		return err
	}
	return d.restoreLocked(ctx, id, rec)
}

// restoreLocked restores a checkpointed sandbox; one that is not
// checkpointed is left as it is. The caller holds the sandbox's lock.
func (d *Driver) restoreLocked(ctx context.Context, id string, rec *record) error {
	p := d.paths(id)
	meta, err := loadCheckpoint(p)
	if err != nil || meta == nil {
		return err
	}
	if rec.initAlive() {
		return fmt.Errorf("restore %s: a checkpointed sandbox has a running init (%d): %w", id, rec.InitPID, errdefs.ErrConflict)
	}
	if d.criu == "" {
		return fmt.Errorf("restore %s: %s: %w", id, d.criuMissing, errdefs.ErrUnavailable)
	}
	start := time.Now()
	if err := d.restoreHost(ctx, p, rec); err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	agentLn, err := d.listenAgentIn(p, rec)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	defer agentLn.Close()
	sys, err := sysSource(p)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	defer unix.Unmount(sys, unix.MNT_DETACH)
	extra := []*os.File{agentLn}
	// CRIU will not write over a previous restore's pid file.
	pidFile := filepath.Join(p.dir, "restore.pid")
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	args := []string{"restore", "--images-dir", p.checkpointDir(), "--log-file", "restore.log",
		"--restore-detached", "--pidfile", pidFile, "--root", p.rootfs,
		"--tcp-close", "--file-locks", "--external", "mnt[sys]:" + sys, "--external", "mnt[]", "--mntns-compat-mode",
		"--inherit-fd", fmt.Sprintf("fd[3]:socket:[%d]", meta.AgentSocket)}
	for _, f := range meta.Files {
		fh, err := os.OpenFile(f.Path, f.Flags&^(os.O_CREATE|os.O_TRUNC|os.O_EXCL), 0)
		if err != nil {
			return fmt.Errorf("restore %s: %w", id, err)
		}
		defer fh.Close()
		extra = append(extra, fh)
		args = append(args, "--inherit-fd", fmt.Sprintf("fd[%d]:%s", 2+len(extra), f.Key))
	}
	// CRIU gives the restored root the options it had, which the
	// sandbox's user namespace could not change back from the host view's
	// nosuid (hideRootfs): the host view is as at boot while CRIU binds it.
	if err := unix.MountSetattr(unix.AT_FDCWD, p.rootfs, 0, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_NOSUID}); err != nil {
		return fmt.Errorf("restore %s: root options: %w", id, err)
	}
	bound := d.restoreBound(meta.SizeBytes)
	rctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	err = d.criuRun(rctx, rec.Net.Netns, filepath.Join(p.checkpointDir(), "restore.log"), extra, args...)
	if err != nil && rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("CRIU did not finish within %s (a damaged image?): %w", bound, err)
	}
	if err != nil {
		// What CRIU had restored when it failed or was killed goes, and
		// so do the mounts a killed CRIU leaves in the image directory.
		d.terminate(rec.key(), 0, 0)
		if uerr := unmountUnder(p.checkpointDir()); uerr != nil {
			d.log.Warn("unmount what CRIU left", "id", id, "err", uerr)
		}
	}
	if herr := hideRootfs(p); err == nil {
		err = herr
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("restore %s: no pid file: %w", id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("restore %s: pid file: %w", id, err)
	}
	st, _, err := procStart(pid)
	if err != nil {
		return fmt.Errorf("restore %s: the restored init %d vanished: %w", id, pid, err)
	}
	if !d.cg.frozen(rec.key()) {
		if err := d.cg.setFreezer(rec.key(), "FROZEN"); err != nil {
			return err
		}
	}
	rec.InitPID, rec.InitStart, rec.Stopped, rec.Reason = pid, st, false, ""
	// Read before init is asked to execute itself.
	rec.RestoredStart, rec.RestoredExecs = st, execCount(pid)
	if err := rec.save(p.record); err != nil {
		return err
	}
	// Init executes itself once thawed, so that its memory belongs to
	// the sandbox's user namespace again and a later dump finds it as
	// after a boot (see waitInitExec).
	if err := unix.Kill(pid, initproc.ReexecSignal); err != nil {
		d.log.Warn("ask the restored init to execute itself", "id", id, "err", err)
	}
	d.follow(id, procID{pid, st})
	if err := os.RemoveAll(p.checkpointDir()); err != nil {
		d.log.Warn("remove restored checkpoint", "id", id, "err", err)
	}
	d.log.Info("sandbox restored", "id", id, "pid", pid, "took", time.Since(start))
	return nil
}

// restoreTimeout is the base of a restore's bound: CRIU restores a GiB in
// about a second here, but one reading a damaged image can wait forever
// (a pages image cut short hung it), holding the sandbox's lock.
const restoreTimeout = 2 * time.Minute

// restoreBound bounds the restore of an image of size bytes: the base
// and a second for every 32 MiB, for a slow disk.
func (d *Driver) restoreBound(size int64) time.Duration {
	return d.restoreTimeout + time.Duration(size/(32<<20))*time.Second
}

// waitInitExec waits until the sandbox's first process runs the init
// binary, from an execve made in the sandbox's user namespace: until
// then its memory belongs to the host's user namespace, and as init is
// not dumpable, CRIU's check of the sandbox's namespaces (made as the
// sandbox's root) may not open /proc/<init>/ns/* ("One or more
// namespaces doesn't belong to the target user namespace"). That is so
// for the runtime's own clone, which its run leaves before it has
// executed init (a checkpoint right after a create failed so under
// load), and for an init CRIU restored, which the restore asked to
// execute itself (initproc.ReexecSignal) and which is asked again here.
// A frozen sandbox is thawed while it waits.
func (d *Driver) waitInitExec(ctx context.Context, rec *record) error {
	want, err := os.Stat(d.cfg.InitBinary)
	if err != nil {
		return err
	}
	execed := func() bool {
		got, err := os.Stat(fmt.Sprintf("/proc/%d/exe", rec.InitPID))
		return err == nil && os.SameFile(got, want)
	}
	restored := func() bool {
		return rec.RestoredStart == rec.InitStart && execCount(rec.InitPID) <= rec.RestoredExecs
	}
	if execed() && !restored() {
		return nil
	}
	if d.cg.frozen(rec.key()) {
		if err := d.cg.setFreezer(rec.key(), "THAWED"); err != nil {
			return err
		}
	}
	if restored() {
		// A second signal while the first is handled is lost (an init
		// that is executing itself has no handler yet) or makes init
		// execute itself once more: either way it ends executed.
		if err := unix.Kill(rec.InitPID, initproc.ReexecSignal); err != nil {
			return fmt.Errorf("ask the restored init %d to execute itself: %w", rec.InitPID, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !execed() || restored() {
		select {
		case <-ctx.Done():
			if restored() {
				return fmt.Errorf("init %d, restored from a checkpoint, has not executed itself again (an init older than this server's?): %w", rec.InitPID, ctx.Err())
			}
			return fmt.Errorf("init %d has not executed %s: %w", rec.InitPID, d.cfg.InitBinary, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// execCount is the value of initproc.ExecCountFlag on pid's command
// line (how many times init has executed itself), 0 without it.
func execCount(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0
	}
	args := strings.Split(string(b), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == initproc.ExecCountFlag {
			n, _ := strconv.Atoi(args[i+1])
			return n
		}
	}
	return 0
}

// inFlight reports whether a dump failed on a closed connection still
// waiting in a listener's queue.
func inFlight(dumpLog string) bool {
	b, _ := os.ReadFile(dumpLog)
	return strings.Contains(string(b), "closed in-flight socket")
}

// stuckTask reports whether a dump failed because a task stayed in
// uninterruptible sleep (state D) while CRIU waited to seize it.
func stuckTask(dumpLog string) bool {
	b, _ := os.ReadFile(dumpLog)
	return strings.Contains(string(b), "Unseizable non-zombie")
}

// thawBriefly lets a frozen sandbox run for a moment and freezes it again.
func (d *Driver) thawBriefly(id string) error { return d.thawFor(id, 50*time.Millisecond) }

// thawFor lets a frozen sandbox run for spell and freezes it again.
func (d *Driver) thawFor(id string, spell time.Duration) error {
	if err := d.cg.setFreezer(id, "THAWED"); err != nil {
		return err
	}
	time.Sleep(spell)
	return d.cg.setFreezer(id, "FROZEN")
}

// restoreHost rebuilds what a host reboot took from a checkpointed
// sandbox: its network namespace and its mounts. What is still there is
// kept.
func (d *Driver) restoreHost(ctx context.Context, p paths, rec *record) error {
	if _, err := os.Stat(rec.Net.Netns); err != nil || !isNetnsFile(rec.Net.Netns) {
		a, err := d.net.Ensure(ctx, rec.key(), rec.Net.Policy, rec.Net, 0)
		if err != nil {
			return err
		}
		rec.Net = a
		if err := rec.save(p.record); err != nil {
			return err
		}
	}
	if mounted, err := mountinfo.Under(p.rootfs); err != nil || len(mounted) > 0 {
		return err
	}
	if err := d.mountDisk(p.diskImg, p.disk); err != nil {
		return err
	}
	return d.mountRootfsAs(p, rec.Layers, d.idsOf(rec))
}

// sysSource binds the host's /sys alone, without the mounts below it, for
// CRIU to bind the sandbox's /sys from: crun binds /sys into a sandbox
// whose network namespace the host owns, and in the restored user
// namespace a bind of the host's /sys itself fails (EINVAL) because the
// mounts under it are locked there.
func sysSource(p paths) (string, error) {
	dir := filepath.Join(p.dir, "sys.src")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := unix.Mount("/sys", dir, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind /sys: %w", err)
	}
	return dir, nil
}

// isNetnsFile reports whether path is a bound network namespace.
func isNetnsFile(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// discardCheckpoint removes a sandbox's checkpoint, if any: a stop or a
// fresh start ends what it held.
func discardCheckpoint(p paths) error {
	// Never remove through a mount a killed CRIU left (its cgroup yard).
	if err := unmountUnder(p.checkpointDir()); err != nil {
		return err
	}
	return errors.Join(os.RemoveAll(p.checkpointDir()), os.RemoveAll(p.checkpointDir()+".new"))
}

// listenAgentIn binds the sandbox's agent socket from inside its network
// namespace, where CRIU looks for the sockets of what it dumps, and
// notes the listener's inode for a later checkpoint.
func (d *Driver) listenAgentIn(p paths, rec *record) (*os.File, error) {
	netns := ""
	if rec.Net != nil && d.joinsNetns() {
		netns = rec.Net.Netns
	}
	var ln *os.File
	err := inNetns(netns, func() (err error) {
		ln, err = listenAgent(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(ln.Fd()), &st); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.WriteFile(p.agentInode(), []byte(strconv.FormatUint(st.Ino, 10)), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func readAgentInode(p paths) (uint64, error) {
	b, err := os.ReadFile(p.agentInode())
	if err != nil {
		return 0, fmt.Errorf("the agent's listener is unknown (a sandbox booted before checkpoint support; stop and start it): %w", err)
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// hostFiles lists the files under the sandbox's host directory, outside
// its root, that its processes hold open: CRIU cannot find them in the
// sandbox's mounts, so they are declared external and reopened on restore.
func hostFiles(p paths, pids []int) ([]externalFile, error) {
	seen := map[string]bool{}
	var out []externalFile
	for _, pid := range pids {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, e := range fds {
			fdPath := fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())
			target, err := os.Readlink(fdPath)
			if err != nil || !strings.HasPrefix(target, p.dir+"/") || strings.HasPrefix(target, p.rootfs+"/") {
				continue
			}
			var st unix.Stat_t
			if err := unix.Stat(fdPath, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			mntID, flags, err := fdInfo(pid, e.Name())
			if err != nil {
				return nil, err
			}
			key := fmt.Sprintf("file[%x:%x]", mntID, st.Ino)
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, externalFile{Key: key, Path: target, Flags: flags & (unix.O_ACCMODE | unix.O_APPEND)})
		}
	}
	return out, nil
}

// fdInfo reads the mount id and open flags of one descriptor.
func fdInfo(pid int, fd string) (mntID uint64, flags int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "mnt_id":
			mntID, err = strconv.ParseUint(v, 10, 64)
		case "flags":
			var f uint64
			f, err = strconv.ParseUint(v, 8, 64)
			flags = int(f)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return mntID, flags, nil
}

// imageSize is the disk use of the files under dir.
func imageSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += info.Size()
		}
		return nil
	})
	return n, err
}
