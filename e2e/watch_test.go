package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestKilledInitSettlesAtOnce kills a sandbox's init from outside, as the
// OOM killer would, and checks that the API says error with the exit
// status within a second, that the agent's calls are a clear 409 rather
// than 503s, and that the sandbox starts again.
func TestKilledInitSettlesAtOnce(t *testing.T) {
	s := startServer(t, "")
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "victim"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	if _, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := syscall.Kill(initPID(t, sb.ID), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var got *api.Sandbox
	poll.Until(t, "the sandbox to leave running", func() bool {
		got, err = s.c.GetSandbox(ctx(t), sb.ID)
		return err == nil && got.State != "running"
	})
	took := time.Since(killed)
	t.Logf("settled %v after the kill: %s %q", took.Round(time.Millisecond), got.State, got.StateReason)
	if got.State != "error" || !strings.Contains(got.StateReason, "exited with status 137 (signal 9)") {
		t.Fatalf("after its init was killed the sandbox is %s %q, want error with the exit status", got.State, got.StateReason)
	}
	if took > time.Second {
		t.Errorf("the sandbox was reported running for %v after its init died", took)
	}
	evs, err := s.c.Events(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(evs.Items, "running", "error", "reconcile") {
		t.Fatalf("no reconcile event running -> error: %+v", evs.Items)
	}
	_, err = s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"true"}})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict {
		t.Fatalf("exec in the dead sandbox: %v, want 409", err)
	}
	if again, err := s.c.Start(ctx(t), sb.ID); err != nil || again.State != "running" {
		t.Fatalf("start after the death: %+v %v", again, err)
	}
	if _, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"true"}}); err != nil {
		t.Fatalf("exec after the restart: %v", err)
	}
}

// TestOOMKillsTheHogNotInit fills a small sandbox's memory from a command
// run through the agent: the OOM killer ends that command, ranked above
// init, and the sandbox keeps running with the same init.
func TestOOMKillsTheHogNotInit(t *testing.T) {
	s := startServer(t, "")
	mem := int64(64)
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "small", Resources: &api.ResourcesRequest{MemoryMB: &mem}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	pid := initPID(t, sb.ID)
	// Init keeps the server's value, never below zero; it is raised only
	// for the moment it starts a child, the agent at boot.
	initAdj := max(readAdj(t, s.cmd.Process.Pid), 0)
	poll.Until(t, "init's oom_score_adj to settle", func() bool { return readAdj(t, pid) == initAdj })
	res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"cat", "/proc/self/oom_score_adj"}})
	if err != nil {
		t.Fatal(err)
	}
	if cmdAdj, _ := strconv.Atoi(strings.TrimSpace(res.Stdout)); cmdAdj != min(initAdj+initproc.UserOOMScoreBonus, 1000) {
		t.Fatalf("init's oom_score_adj %d, a command's %q: want a command %d above init", initAdj, res.Stdout, initproc.UserOOMScoreBonus)
	}
	// A shell variable twice the sandbox's memory.
	hog, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c", `x=$(head -c 134217728 /dev/zero | tr '\0' a); echo ${#x}`}})
	if err != nil {
		t.Fatalf("exec of the hog: %v", err)
	}
	if hog.ExitCode == 0 {
		t.Fatalf("the hog was not killed: %+v", hog)
	}
	got, err := s.c.GetSandbox(ctx(t), sb.ID)
	if err != nil || got.State != "running" {
		t.Fatalf("after the OOM kill the sandbox is %+v (%v)", got, err)
	}
	if now := initPID(t, sb.ID); now != pid {
		t.Fatalf("init changed from %d to %d: the OOM killer chose it", pid, now)
	}
	if _, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"true"}}); err != nil {
		t.Fatalf("exec after the OOM kill: %v", err)
	}
}

func readAdj(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
