package initproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestRunReturnsChildStatus(t *testing.T) {
	if got := Run([]string{"--", "sh", "-c", "exit 3"}); got != 3 {
		t.Fatalf("status = %d, want 3", got)
	}
	if got := Run([]string{"--", "/nonexistent/cmd"}); got != 127 {
		t.Fatalf("status of a missing command = %d, want 127", got)
	}
}

// TestForwardsSIGTERM runs the real binary, as PID 1 would run, and checks
// that SIGTERM reaches the child's process group and that the status of
// the child (killed by the signal) comes back.
func TestForwardsSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hutchinit")
	build := exec.Command("go", "build", "-o", bin, "./testdata/hutchinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	marker := filepath.Join(t.TempDir(), "started")
	cmd := exec.Command(bin, "init", "--", "sh", "-c", "touch "+marker+"; sleep 60 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("child never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("init exit = %v, want status %d", err, 128+int(syscall.SIGTERM))
	}
}

// TestChildrenRankAboveInit checks that the command init starts scores
// UserOOMScoreBonus above init for the OOM killer, that what that command
// forks inherits it, and that init's own value is back where it was.
func TestChildrenRankAboveInit(t *testing.T) {
	own, err := readOOMScoreAdj("self")
	if err != nil {
		t.Skip("no /proc/self/oom_score_adj:", err)
	}
	if own+UserOOMScoreBonus > 1000 {
		t.Skipf("this process's oom_score_adj %d leaves no room above it", own)
	}
	out := filepath.Join(t.TempDir(), "adj")
	script := "cat /proc/self/oom_score_adj > " + out + "; sh -c 'cat /proc/self/oom_score_adj' >> " + out
	if got := Run([]string{"--", "sh", "-c", script}); got != 0 {
		t.Fatalf("status = %d", got)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d\n%d\n", own+UserOOMScoreBonus, own+UserOOMScoreBonus)
	if string(b) != want {
		t.Fatalf("child and grandchild oom_score_adj %q, want %q", b, want)
	}
	if after, _ := readOOMScoreAdj("self"); after != own {
		t.Fatalf("init's own oom_score_adj is %d after the start, want %d back", after, own)
	}
}
