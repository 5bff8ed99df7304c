package initproc

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/poll"
)

// agentListener binds the agent's socket in dir and returns it as the
// file init inherits (its descriptor 3 through ExtraFiles).
func agentListener(t *testing.T, dir string) *os.File {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "agent.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// startInit starts cmd, an init, and when the test ends kills it, waits
// for it and then runs cleanup (when not nil). It returns init's pid and
// a function that waits for init's end and returns its exit.
func startInit(t *testing.T, cmd *exec.Cmd, cleanup func()) (int, func() error) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var exit error
	go func() { exit = cmd.Wait(); close(done) }()
	wait := func() error { <-done; return exit }
	t.Cleanup(func() {
		// SIGTERM first: init passes it on to its command's process group
		// and ends with it, where a SIGKILL would leave the command behind,
		// orphaned (init is no namespace's PID 1 here).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if cleanup != nil {
			cleanup()
		}
	})
	return cmd.Process.Pid, wait
}

// readPID waits until the file at path holds a pid and returns it.
func readPID(t *testing.T, what, path string) int {
	t.Helper()
	var pid int
	poll.Until(t, what, func() bool {
		b, _ := os.ReadFile(path)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	return pid
}

// probedAgents lists the pids of the agents the test binary's agent
// (testdata/hutchinit) reported in dir (HUTCHINIT_AGENT_PROBE), one file
// agent-<pid> each.
func probedAgents(dir string) []int {
	files, _ := filepath.Glob(filepath.Join(dir, "agent-*"))
	var pids []int
	for _, f := range files {
		if pid, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(f), "agent-")); pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAgents kills the agents probedAgents finds: they run in sessions of
// their own, which init's end misses.
func killAgents(dir string) {
	for _, pid := range probedAgents(dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
