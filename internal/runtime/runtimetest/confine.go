package runtimetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/runtime"
)

// testConfinement checks what a sandbox's root can see and reach of the
// sandbox's own machinery: its cgroup paths are its own root (a cgroup
// namespace), init's descriptors, environment and memory are closed to it
// (init is not dumpable), init's output is not a file it can write to
// through /proc/1/fd, and the standard devices still work.
func testConfinement(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	s.create(t, rt, sp)
	sh := func(line string) (string, error) { return s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", line) }

	out, err := s.Exec(ctxT(t), rt, sp.ID, "cat", "/proc/self/cgroup")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) != 3 || parts[2] != "/" {
			t.Errorf("/proc/self/cgroup shows a path outside the sandbox's cgroup namespace: %q", line)
		}
	}
	for _, line := range []string{
		"readlink /proc/1/fd/1",
		"cat /proc/1/environ",
		"readlink /proc/1/exe",
		"echo forged >> /proc/1/fd/1",
		"echo forged >> /proc/1/fd/2",
	} {
		if out, err := sh(line); err == nil {
			t.Errorf("the sandbox's root reached its init: %q succeeded: %q", line, out)
		}
	}
	if out, err := sh("echo x > /dev/null && head -c 3 /dev/zero | wc -c && head -c 3 /dev/urandom | wc -c && ! echo x > /dev/full"); err != nil ||
		strings.Fields(out)[0] != "3" {
		t.Errorf("standard devices: %q %v", out, err)
	}
}

// testAgentConfinement checks the agent the same way from a process the
// agent starts (as the user's would be): the agent's descriptors (its
// listening socket) are closed to it, and the OOM killer prefers it to
// init and the agent.
func testAgentConfinement(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	ad, ok := runtime.AsAgentDialer(rt)
	if !ok {
		t.Fatal("Agent declared, no AgentDialer")
	}
	sp := s.spec()
	s.create(t, rt, sp)
	agentSh := func(line string) api.ExecResult {
		t.Helper()
		body, _ := json.Marshal(api.ExecRequest{Command: []string{"sh", "-c", line}})
		req, _ := http.NewRequest("POST", "http://agent/exec", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, out := agentCall(t, ad, sp.ID, req)
		var res api.ExecResult
		if err := json.Unmarshal(out, &res); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("agent exec %q: %s %v", line, resp.Status, err)
		}
		return res
	}
	// The agent is the process whose command line is "<init> agent ...".
	find := `for p in /proc/[0-9]*; do if tr '\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^/.hutch/hutch agent'; then echo ${p#/proc/}; fi; done`
	res := agentSh(find)
	agent := strings.TrimSpace(res.Stdout)
	if _, err := strconv.Atoi(agent); err != nil {
		t.Fatalf("no single agent process found: %q %q", res.Stdout, res.Stderr)
	}
	for _, line := range []string{"readlink /proc/" + agent + "/fd/3", "cat /proc/" + agent + "/environ", "readlink /proc/1/fd/3"} {
		if res := agentSh(line); res.ExitCode == 0 {
			t.Errorf("a process the agent started reached the agent or init: %q succeeded: %q", line, res.Stdout)
		}
	}
	// Init executes the agent with another real gid, so that it is not
	// dumpable from its first instruction, and the agent puts back what
	// that execve changed: the user's processes have init's ids, stack
	// limit and no GOTRACEBACK (Go's secure mode sets it). Init is the
	// agent's parent (PID 1 is not init on every runtime).
	res = agentSh(`init=$(awk '/^PPid:/ {print $2}' /proc/` + agent + `/status); for f in /proc/$init /proc/self; do grep -E '^(Uid|Gid):' $f/status | tr -s '\t ' ' '; grep 'Max stack size' $f/limits | tr -s ' ' ' '; done; echo "GOTRACEBACK=${GOTRACEBACK-unset}"`)
	if lines := strings.Split(strings.TrimSpace(res.Stdout), "\n"); len(lines) != 7 || strings.Join(lines[:3], "|") != strings.Join(lines[3:6], "|") || lines[6] != "GOTRACEBACK=unset" {
		t.Errorf("a process the agent started differs from init (ids, stack limit) or has GOTRACEBACK: %q %q", res.Stdout, res.Stderr)
	}
	// The agent raises its own value while it forks a user's process (the
	// child inherits it at fork) and lowers it once the start returns, so
	// the shell it started for this line may look before it has: look
	// again for a while, and judge what is seen last.
	res = agentSh("i=0; while [ $i -lt 100 ] && [ $(cat /proc/" + agent + "/oom_score_adj) -ge $(cat /proc/self/oom_score_adj) ]; do sleep 0.05; i=$((i+1)); done; " +
		"cat /proc/1/oom_score_adj /proc/" + agent + "/oom_score_adj /proc/self/oom_score_adj")
	adj := strings.Fields(res.Stdout)
	if len(adj) != 3 {
		t.Fatalf("oom_score_adj of init, agent, user: %q %q", res.Stdout, res.Stderr)
	}
	initAdj, _ := strconv.Atoi(adj[0])
	agentAdj, _ := strconv.Atoi(adj[1])
	userAdj, _ := strconv.Atoi(adj[2])
	if userAdj <= initAdj || userAdj <= agentAdj {
		t.Errorf("oom_score_adj init %d, agent %d, user's process %d: the user's must be the OOM killer's first choice", initAdj, agentAdj, userAdj)
	}
}
