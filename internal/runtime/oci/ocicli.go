package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The runtime binary is run once per action at most: "run -d" creates and
// starts in one process, and everything else (pause, resume, signals,
// state) goes through cgroup and /proc files instead. Only delete needs it
// again, to drop the runtime's own state.

// runTimeout bounds one `run` of the runtime, which its caller's context
// does not (runDetached).
const runTimeout = 2 * time.Minute

// runDetached creates and starts the container. The runtime's stdout and
// stderr are a host file, started afresh on every run, that takes the
// runtime's own errors (returned on failure); the container's init
// inherits them, but before anything else of the sandbox runs it puts its
// console pipe in their place (initproc.Console), so nothing in the
// sandbox holds the host file afterwards. extra are passed on to the
// sandbox's init as fds 3 and up.
func (d *Driver) runDetached(ctx context.Context, p paths, id string, extra ...*os.File) (int, error) {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	var off int64
	_ = os.Remove(p.pidFile)
	args := append(d.globalArgs(d.cfg.Runtime, d.runtimeRoot()), "run", "--detach", "--bundle", p.dir, "--pid-file", p.pidFile)
	if !d.runsc() { // runsc has neither: it passes no listener in (runsc.go)
		args = append(args, "--no-new-keyring", "--preserve-fds", strconv.Itoa(len(extra)))
	}
	// The run is never cut short by ctx: a runtime killed half-way can
	// leave its sandbox running outside anything that names it (a gVisor
	// sentry not yet in its cgroup). Its own bound is generous.
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, d.binary, append(args, id)...)
	cmd.Stdin = nil
	cmd.ExtraFiles = extra
	cmd.Stdout, cmd.Stderr = logf, logf
	atOOMScore(cmd, *initOOMScoreAdj())
	if err := d.reaper.run(cmd); err != nil {
		return 0, fmt.Errorf("%s run %s: %w: %s", d.cfg.Runtime, id, err, logTail(p.log, off))
	}
	b, err := os.ReadFile(p.pidFile)
	if err != nil {
		return 0, fmt.Errorf("%s run %s: no pid file: %w", d.cfg.Runtime, id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err == nil {
		d.keepCompiledSeccomp(p, id)
	}
	if err == nil && d.runsc() {
		err = d.waitRunscAgent(ctx, p, pid)
	}
	return pid, err
}

// deleteContainer drops the runtime's state of the container, killing
// what is left of it. A container the runtime does not know is fine.
func (d *Driver) deleteContainer(ctx context.Context, rt, id string) error {
	binary := d.binary
	if rt != d.cfg.Runtime {
		var err error
		if binary, err = exec.LookPath(rt); err != nil {
			return fmt.Errorf("sandbox %s was made by %s: %w", id, rt, err)
		}
	}
	root := filepath.Join(d.cfg.StateDir, rt)
	if rt == RuntimeRunsc {
		killRunscStrays(root, id)
	}
	args := append(d.globalArgs(rt, root), "delete", "--force", id)
	out, err := d.reaper.combinedOutput(exec.CommandContext(ctx, binary, args...))
	if err == nil {
		return nil
	}
	msg := string(out)
	if strings.Contains(msg, "does not exist") || strings.Contains(msg, "not exist") ||
		strings.Contains(msg, "No such file") {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// The runtime may choke on state it half-wrote; its directory
		// is ours to remove.
		if rmErr := os.RemoveAll(filepath.Join(root, id)); rmErr == nil {
			return nil
		}
		return fmt.Errorf("%s delete %s: %s", rt, id, strings.TrimSpace(msg))
	}
	return err
}

// logTail returns what was appended to the log file after off, trimmed.
func logTail(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	return string(bytes.TrimSpace(b))
}
