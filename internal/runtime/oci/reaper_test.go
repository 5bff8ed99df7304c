package oci

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/internal/poll"
)

// TestReaperLeavesOSExecChildren races sweeps against children that
// os/exec waits for, in this process's group and (through start) in a
// session of their own, as the runtime binary is: every Wait must still
// find its child.
func TestReaperLeavesOSExecChildren(t *testing.T) {
	r, err := processReaper()
	if err != nil {
		t.Skip(err)
	}
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Add(1)
	go func() {
		defer sweeps.Done()
		for {
			select {
			case <-stop:
				return
			default:
				r.sweep()
			}
		}
	}()
	t.Cleanup(func() { close(stop); sweeps.Wait() })
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for range 100 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- exec.Command("true").Run()
		}()
		go func() {
			defer wg.Done()
			cmd := exec.Command("true")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			errs <- r.run(cmd)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a Wait lost its child to the reaper: %v", err)
		}
	}
}

// TestReaperReapsOrphansAndKeepsStatus leaves orphans in sessions of their
// own to this process, as a runtime binary does, and checks that none
// stays a zombie and that the exit status of the one expected is kept.
func TestReaperReapsOrphansAndKeepsStatus(t *testing.T) {
	r, err := processReaper()
	if err != nil {
		t.Skip(err)
	}
	before := zombieChildren()
	release := t.TempDir() + "/go"
	// The shell prints the orphan's pid and exits; the orphan waits for
	// the release file, so that the test can name it before it ends.
	out, err := exec.Command("sh", "-c",
		"setsid sh -c 'while [ ! -e "+release+" ]; do sleep 0.01; done; exit 7' >/dev/null 2>&1 & echo $!; "+
			"for i in 1 2 3; do setsid sh -c 'exit 3' & done").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	start, _, err := procStart(pid)
	if err != nil {
		t.Fatal(err)
	}
	p := procID{pid, start}
	r.expect(p)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the orphan to end", func() bool {
		st, err := readProcStat(pid)
		return err != nil || st.zombie
	})
	if status, ok := r.exitStatus(p); !ok || status != 7 {
		t.Fatalf("exit status of the orphan = %d, %v; want 7", status, ok)
	}
	poll.Until(t, "no more zombie children than before", func() bool { return zombieChildren() <= before })
}

// zombieChildren counts this process's children that are zombies.
func zombieChildren() int {
	n := 0
	for _, pid := range childPIDs() {
		if st, err := readProcStat(pid); err == nil && st.zombie {
			n++
		}
	}
	return n
}
