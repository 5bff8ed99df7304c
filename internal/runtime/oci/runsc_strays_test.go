package oci

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKillRunscStrays: the sentry and gofer of the container under its
// root are killed; one of another container, one under another root and
// a process of another name that argues the same are left alone.
func TestKillRunscStrays(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runsc")
	start := func(name, root, id string) *exec.Cmd {
		t.Helper()
		cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{name, "-c", "while :; do sleep 1; done", "--root=" + root, "boot", id}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	doomed := []*exec.Cmd{start("runsc-sandbox", root, "strays1"), start("runsc-gofer", root, "strays1")}
	kept := []*exec.Cmd{start("runsc-sandbox", root, "strays2"), start("runsc-gofer", root+"x", "strays1"), start("runsc", root, "strays1")}
	killRunscStrays(root, "strays1")
	for _, cmd := range doomed {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if ws, ok := cmd.ProcessState.Sys().(interface{ Signal() unix.Signal }); !ok || ws.Signal() != unix.SIGKILL {
				t.Errorf("%s ended with %v, want killed", cmd.Args[0], err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s %q outlived killRunscStrays", cmd.Args[0], cmd.Args)
		}
	}
	for _, cmd := range kept {
		// Not yet reaped, a killed one would still answer kill(pid, 0).
		if pid, err := unix.Wait4(cmd.Process.Pid, nil, unix.WNOHANG, nil); pid != 0 || err != nil {
			t.Errorf("%q ended (%d, %v)", cmd.Args, pid, err)
		}
	}
}
