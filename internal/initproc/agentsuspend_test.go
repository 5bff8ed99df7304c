package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/poll"
)

// TestAgentSuspendResumeStartsOneAgent: an agent suspended (and so
// killed) soon after its start is not taken for one that crashed, whose
// restart waits out agentRestartDelay: after the resume exactly one agent
// runs, also once that delay is over. Two agents would share the socket,
// and the second, which the next suspend does not kill, would keep a host
// socket in a sandbox that is to be checkpointed.
func TestAgentSuspendResumeStartsOneAgent(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("init takes another real gid for the agent's execve, which needs root")
	}
	bin := buildInit(t)
	work, probes := t.TempDir(), t.TempDir()
	_ = os.Chmod(work, 0o755)
	sock := filepath.Join(work, "agent.sock")
	cmd := exec.Command(bin, "init", AgentSocketFlag, sock, "--", "sh", "-c", "echo $$ > "+work+"/pid; exec sleep 600")
	cmd.Env = append(os.Environ(), "HUTCHINIT_AGENT_PROBE="+probes)
	agents := func() []int { return probedAgents(probes) }
	var workload int
	init, _ := startInit(t, cmd, func() {
		// The workload outlives an init that had to be killed, outside a
		// pid namespace.
		killAgents(probes)
		if workload > 0 {
			_ = syscall.Kill(workload, syscall.SIGKILL)
		}
	})
	workload = readPID(t, "the workload to start", filepath.Join(work, "pid"))
	alive := func(pid int) bool {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err == nil && !strings.Contains(string(st), ") Z ")
	}
	poll.Until(t, "the agent to start", func() bool { return len(agents()) == 1 })
	first := agents()[0]
	start := time.Now()

	if err := syscall.Kill(init, AgentSuspendSignal); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the suspend to end the agent and drop its socket", func() bool {
		_, err := os.Lstat(sock)
		return !alive(first) && os.IsNotExist(err)
	})
	if err := syscall.Kill(init, AgentResumeSignal); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the resume to start an agent", func() bool { return len(agents()) == 2 })
	if since := time.Since(start); since >= agentRestartDelay {
		t.Skipf("the resume came %v after the agent's start, past the restart delay this test is about", since)
	}
	// A restart for the suspended agent would come due now.
	time.Sleep(agentRestartDelay + agentRestartDelay/2)
	var running []int
	for _, pid := range agents() {
		if alive(pid) {
			running = append(running, pid)
		}
	}
	if all := agents(); len(running) != 1 || slices.Contains(running, first) {
		t.Fatalf("agents started %v, running %v; want one running, not the suspended %d", all, running, first)
	}
}
