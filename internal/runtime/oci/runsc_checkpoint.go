package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/mountinfo"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Gvisor is the driver on runsc with what only runsc adds: checkpoint and
// restore by gVisor itself, which saves its whole kernel (tasks, memory,
// sockets, open files) without CRIU. It is a type of its own so that its
// Capabilities and Checkpointer stay apart from the crun/runc driver's.
//
// A checkpointed sandbox keeps its mounts, its disk and its network
// namespace; its sentry (and so its memory) is gone, and its image lies in
// the sandbox directory, complete once runscImageDone exists. Recover
// reports it paused; Restore brings it back paused; Stop and Delete drop
// the image.
type Gvisor struct {
	*Driver
	ports portConns
}

// portConns are the connections DialPort handed out, by sandbox: gVisor
// cannot save one, so a checkpoint closes them first (a proxied request
// then ends, as a connection that cannot survive should).
type portConns struct {
	mu sync.Mutex
	m  map[string]map[*portConn]struct{}
}

type portConn struct {
	net.Conn
	id   string
	set  *portConns
	once sync.Once
}

func (c *portConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.m[c.id], c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}

// DialPort implements runtime.PortDialer, keeping the connection for
// closeAll.
func (g *Gvisor) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	c, err := g.Driver.DialPort(ctx, id, port)
	if err != nil {
		return nil, err
	}
	pc := &portConn{Conn: c, id: id, set: &g.ports}
	g.ports.mu.Lock()
	if g.ports.m == nil {
		g.ports.m = map[string]map[*portConn]struct{}{}
	}
	if g.ports.m[id] == nil {
		g.ports.m[id] = map[*portConn]struct{}{}
	}
	g.ports.m[id][pc] = struct{}{}
	g.ports.mu.Unlock()
	return pc, nil
}

// closeAll closes sandbox id's port connections.
func (p *portConns) closeAll(id string) {
	p.mu.Lock()
	conns := p.m[id]
	delete(p.m, id)
	p.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

var (
	_ runtime.Runtime      = (*Gvisor)(nil)
	_ runtime.Checkpointer = (*Gvisor)(nil)
	_ runtime.AgentDialer  = (*Gvisor)(nil)
	_ runtime.Networker    = (*Gvisor)(nil)
	_ runtime.PortDialer   = (*Gvisor)(nil)
	_ runtime.Archiver     = (*Gvisor)(nil)
	_ runtime.Watcher      = (*Gvisor)(nil)
)

// NewGvisor returns the driver on runsc (cfg.Runtime is set to runsc;
// cfg.RuntimePath names the binary when it is not runsc in PATH).
func NewGvisor(cfg Config) (*Gvisor, error) {
	cfg.Runtime = RuntimeRunsc
	d, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Gvisor{Driver: d}, nil
}

// Name implements runtime.Runtime.
func (g *Gvisor) Name() string { return "gvisor" }

// Capabilities implements runtime.Runtime.
func (g *Gvisor) Capabilities() runtime.Capabilities {
	return runtime.Capabilities{Pause: true, DiskLimit: true, Network: true, Ports: true, Archive: true, Agent: true,
		Watch: true, Checkpoint: true}
}

func (p paths) runscImage() string     { return filepath.Join(p.dir, "runsc-image") }
func (p paths) runscImageDone() string { return filepath.Join(p.dir, "runsc-image.done") }

func (p paths) checkpointed() bool {
	_, err := os.Stat(p.runscImageDone())
	return err == nil
}

// Checkpoint implements runtime.Checkpointer.
func (g *Gvisor) Checkpoint(ctx context.Context, id string) (int64, error) {
	if err := checkID(id); err != nil {
		return 0, err
	}
	defer g.locks.Lock(id)()
	p := g.paths(id)
	rec, err := g.load(id)
	if err != nil {
		return 0, err
	}
	if p.checkpointed() && !rec.initAlive() {
		return dirSize(p.runscImage()), nil // done already
	}
	if !rec.initAlive() {
		return 0, fmt.Errorf("sandbox %s is not running: %w", id, errdefs.ErrConflict)
	}
	if paused, err := g.runscPaused(ctx, id); err != nil || !paused {
		return 0, fmt.Errorf("checkpoint %s: only a paused sandbox is checkpointed: %w", id, errors.Join(err, errdefs.ErrConflict))
	}
	_ = os.Remove(p.runscImageDone())
	if err := os.RemoveAll(p.runscImage()); err != nil {
		return 0, err
	}
	if err := os.Mkdir(p.runscImage(), 0o700); err != nil {
		return 0, err
	}
	g.ports.closeAll(id)
	if err := g.suspendAgent(ctx, id, p); err != nil {
		return 0, g.checkpointFailed(ctx, id, p, rec, err)
	}
	g.unfollow(id) // its sentry ends now, on purpose
	if _, err := g.runscCommand(ctx, "checkpoint", "--image-path", p.runscImage(), id); err != nil {
		_ = os.RemoveAll(p.runscImage())
		if rec.initAlive() {
			g.follow(id, procID{rec.InitPID, rec.InitStart})
		}
		return 0, g.checkpointFailed(ctx, id, p, rec, err)
	}
	// The saved sentry lingers: it and its gofer go, and runsc's record.
	g.terminate(id, 0, 0)
	g.reap(rec)
	g.reaper.sweep()
	if err := g.deleteContainer(ctx, RuntimeRunsc, id); err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", id, err)
	}
	if err := os.WriteFile(p.runscImageDone(), nil, 0o600); err != nil {
		return 0, err
	}
	return dirSize(p.runscImage()), nil
}

// Restore implements runtime.Checkpointer. The sandbox's mounts are made
// again when they are gone (a host reboot), then runsc restores its kernel
// from the image and it is paused, as it was checkpointed.
func (g *Gvisor) Restore(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer g.locks.Lock(id)()
	p := g.paths(id)
	rec, err := g.load(id)
	if err != nil {
		return err
	}
	if rec.initAlive() {
		return nil // restored already
	}
	if !p.checkpointed() {
		return fmt.Errorf("sandbox %s has no checkpoint: %w", id, errdefs.ErrConflict)
	}
	// runsc keeps a checkpointed container as stopped; it is made anew.
	if err := g.deleteContainer(ctx, RuntimeRunsc, id); err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	if mounts, err := mountinfo.Under(p.rootfs); err != nil || len(mounts) == 0 {
		if err := g.remount(ctx, p, rec); err != nil {
			return fmt.Errorf("restore %s: %w", id, err)
		}
	}
	pid, err := g.runscRestore(ctx, p, id)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	start, _, err := procStart(pid)
	if err != nil {
		return fmt.Errorf("restore %s: sentry %d vanished at once: %w", id, pid, err)
	}
	rec.InitPID, rec.InitStart, rec.Stopped, rec.Reason = pid, start, false, ""
	if err := rec.save(p.record); err != nil {
		return err
	}
	g.follow(id, procID{pid, start})
	if err := g.resumeAgent(ctx, id, p, pid); err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	_ = os.Remove(p.runscImageDone())
	return os.RemoveAll(p.runscImage())
}

// checkpointFailed puts a sandbox whose checkpoint failed with err back
// as it was, paused in memory with its agent, and returns the error. A
// sandbox whose sentry died meanwhile is not touched: the error says so,
// and its end is reported as any other (its exit status, its OOM kill),
// not as one the driver caused.
func (g *Gvisor) checkpointFailed(ctx context.Context, id string, p paths, rec *record, err error) error {
	if !rec.initAlive() {
		return fmt.Errorf("checkpoint %s: the sandbox ended during it: %w", id, err)
	}
	// The checkpoint's own context may be what ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if rerr := g.resumeAgent(ctx, id, p, rec.InitPID); rerr != nil {
		return fmt.Errorf("checkpoint %s: %w; and restarting its agent failed: %v", id, err, rerr)
	}
	return fmt.Errorf("checkpoint %s: %w", id, err)
}

// suspendAgent has init end the agent and close its socket, a host
// socket that gVisor cannot save, and leaves the sandbox paused by runsc
// (see runscPause). Init acts on a signal only while its tasks run, so
// the sandbox runs for the moment it takes.
func (g *Gvisor) suspendAgent(ctx context.Context, id string, p paths) error {
	if err := g.runscPause(ctx, id, "THAWED"); err != nil {
		return err
	}
	if _, err := g.runscCommand(ctx, "kill", id, strconv.Itoa(int(initproc.AgentSuspendSignal))); err != nil {
		return err
	}
	for {
		// The agent is gone when init is the only process of its binary.
		if _, err := os.Lstat(p.runscAgentSocket()); errors.Is(err, fs.ErrNotExist) {
			out, err := g.runscCommand(ctx, "ps", id)
			if err != nil {
				return err
			}
			if strings.Count(string(out), " hutch\n") <= 1 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the agent did not end: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	_, err := g.runscCommand(ctx, "pause", id)
	return err
}

// resumeAgent has init bind the agent's socket and start the agent again,
// waits for it and pauses the sandbox.
func (g *Gvisor) resumeAgent(ctx context.Context, id string, p paths, pid int) error {
	if err := g.runscPause(ctx, id, "THAWED"); err != nil {
		return err
	}
	if _, err := g.runscCommand(ctx, "kill", id, strconv.Itoa(int(initproc.AgentResumeSignal))); err != nil {
		return err
	}
	if err := g.waitRunscAgent(ctx, p, pid); err != nil {
		return err
	}
	return g.runscPause(ctx, id, "FROZEN")
}

// remount makes a checkpointed sandbox's network, disk and root again,
// from its record.
func (g *Gvisor) remount(ctx context.Context, p paths, rec *record) error {
	s := runtime.Spec{ID: rec.ID}
	if rec.Net != nil {
		s.Internet, s.AllowCIDRs, s.DenyCIDRs = rec.Net.Policy.Internet, rec.Net.Policy.AllowCIDRs, rec.Net.Policy.DenyCIDRs
	}
	if err := g.netUp(ctx, p, s, rec); err != nil {
		return err
	}
	if err := g.mountDisk(p.diskImg, p.disk); err != nil {
		return err
	}
	return g.mountRootfs(p, rec.Layers)
}

// runscRestore runs `runsc restore` detached, as runDetached runs `run`.
func (g *Gvisor) runscRestore(ctx context.Context, p paths, id string) (int, error) {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	off, _ := logf.Seek(0, io.SeekEnd)
	_ = os.Remove(p.pidFile)
	args := append(g.globalArgs(RuntimeRunsc, g.runtimeRoot()), "restore", "--detach", "--image-path", p.runscImage(),
		"--bundle", p.dir, "--pid-file", p.pidFile, id)
	cmd := exec.CommandContext(ctx, g.binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := g.reaper.run(cmd); err != nil {
		return 0, fmt.Errorf("runsc restore: %w: %s", err, logTail(p.log, off))
	}
	b, err := os.ReadFile(p.pidFile)
	if err != nil {
		return 0, fmt.Errorf("runsc restore: no pid file: %w", err)
	}
	// A detached restore returns while gVisor still rebuilds its kernel:
	// until it is done, runsc takes the container for stopped (an exec or
	// a kill then fails).
	if _, err := g.runscCommand(ctx, "wait", "--restore", id); err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// Recover implements runtime.Runtime: a checkpointed sandbox is paused,
// its memory on disk.
func (g *Gvisor) Recover(ctx context.Context, id string) (runtime.Status, error) {
	if err := checkID(id); err == nil && g.paths(id).checkpointed() {
		unlock := g.locks.Lock(id)
		rec, err := g.load(id)
		unlock()
		if err == nil && !rec.initAlive() {
			return runtime.Status{State: runtime.StatePaused}, nil
		}
	}
	return g.Driver.Recover(ctx, id)
}

// Stop implements runtime.Runtime; a checkpoint is dropped, as memory is.
func (g *Gvisor) Stop(ctx context.Context, id string, grace time.Duration) error {
	if err := g.Driver.Stop(ctx, id, grace); err != nil {
		return err
	}
	return g.dropImage(id)
}

// Start implements runtime.Runtime: a fresh boot, any checkpoint dropped.
func (g *Gvisor) Start(ctx context.Context, s runtime.Spec) error {
	if err := g.dropImage(s.ID); err != nil {
		return err
	}
	return g.Driver.Start(ctx, s)
}

func (g *Gvisor) dropImage(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	p := g.paths(id)
	_ = os.Remove(p.runscImageDone())
	if err := os.RemoveAll(p.runscImage()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
