package initproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/internal/poll"
)

// TestAgentStartsUndumpable: every agent init starts (the first, one
// restarted after a kill, one restarted by an init that executed itself)
// is not dumpable from its first instruction, so that the sandbox's root,
// which can kill the agent, cannot attach to the next one or take its
// listening socket before it calls Untraceable. It then has init's
// credentials, GOTRACEBACK and RLIMIT_STACK back, for the commands it
// runs. The test binary's agent (testdata/hutchinit) reports both.
func TestAgentStartsUndumpable(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("init takes another real gid for the agent's execve, which needs root")
	}
	bin := buildInit(t)
	work, probes := t.TempDir(), t.TempDir()
	lnf := agentListener(t, work)
	// A stack limit above the 8 MiB an execve with differing ids sets.
	cmd := exec.Command("sh", "-c", `ulimit -s 65536 && exec "$0" init `+AgentFDFlag+` 3 -- sleep 600`, bin)
	cmd.Env = append(os.Environ(), "HUTCHINIT_AGENT_PROBE="+probes, "GOTRACEBACK=crash")
	cmd.ExtraFiles = []*os.File{lnf}
	init, _ := startInit(t, cmd, func() { killAgents(probes) })
	want := "dumpable=0|Uid: 0 0 0 0|Gid: 0 0 0 0|GOTRACEBACK=crash|stack=67108864"

	agent, seen := 0, map[int]bool{}
	check := func(what string) {
		t.Helper()
		var b []byte
		poll.Until(t, what, func() bool {
			for _, pid := range probedAgents(probes) {
				if !seen[pid] {
					var err error
					if b, err = os.ReadFile(filepath.Join(probes, "agent-"+strconv.Itoa(pid))); err == nil {
						agent, seen[pid] = pid, true
						return true
					}
				}
			}
			return false
		})
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: probe: %q", what, b)
		}
		// At its first instruction: not dumpable, by the execve's real gid.
		exec, restored := strings.TrimPrefix(lines[0], "exec "), strings.TrimPrefix(lines[1], "restored ")
		if !strings.HasPrefix(exec, "dumpable=0|Uid: 0 0 0 0|Gid: 65534 0 0 0|") {
			t.Errorf("%s: the agent's execve left it %q, want not dumpable with real gid 65534", what, exec)
		}
		if restored != want {
			t.Errorf("%s: the agent has %q, want %q", what, restored, want)
		}
	}
	check("the agent to start")

	for i := range 2 {
		if i == 1 {
			if err := syscall.Kill(init, ReexecSignal); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, "init to execute itself", func() bool { return execCount(init) == "1" })
		}
		if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			check("init to restart the agent")
		} else {
			check("init that executed itself to restart the agent")
		}
	}
}
