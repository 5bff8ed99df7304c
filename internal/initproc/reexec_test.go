package initproc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/poll"
)

// buildInit builds the test init binary (testdata/hutchinit).
func buildInit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hutchinit")
	build := exec.Command("go", "build", "-o", bin, "./testdata/hutchinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	return bin
}

// TestReexecKeepsWorkload has init execute itself twice while its
// workload counts on the console: each time init counts its execve on
// its command line (ExecCountFlag), keeps its pid and its child, takes its real uid
// back (it executed itself with another, see reexecUID), and the
// console goes on without a gap; a stop afterwards still reaches the
// workload and ends the log with the exit status.
func TestReexecKeepsWorkload(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("init takes another real uid for its execve, which needs root")
	}
	bin := buildInit(t)
	con, work := t.TempDir(), t.TempDir()
	script := `echo $$ > ` + work + `/pid; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.02; done`
	cmd := exec.Command(bin, "init", ConsoleDirFlag, con, ConsoleMaxFlag, "1048576", "--", "sh", "-c", script)
	init, wait := startInit(t, cmd, nil)
	child := readPID(t, "the workload to start", filepath.Join(work, "pid"))
	for round := 1; round <= 2; round++ {
		ticks := lastTick(t, con)
		if err := syscall.Kill(init, ReexecSignal); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "init to execute itself", func() bool {
			// It takes back its real uid once it is untraceable.
			uids := strings.Join(strings.Fields(statusLine(t, init, "Uid:")), " ")
			return execCount(init) == strconv.Itoa(round) && countFlag(init, ExecCountFlag) == 1 && uids == "0 0 0 0"
		})
		if ppid := procField(t, child, 4); ppid != strconv.Itoa(init) {
			t.Fatalf("round %d: the workload's parent is %s, want init %d", round, ppid, init)
		}
		poll.Until(t, "the console to go on", func() bool { return lastTick(t, con) > ticks+3 })
	}
	if err := syscall.Kill(init, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("init exit = %v, want status %d", err, 128+int(syscall.SIGTERM))
	}
	log, _ := logged(t, con)
	if want := fmt.Sprintf("%s%d\n", ExitMarker, 128+int(syscall.SIGTERM)); !bytes.HasSuffix(log, []byte(want)) {
		t.Fatalf("console log ends %q, want the exit status last", log[max(0, len(log)-80):])
	}
	next := 1
	for _, line := range strings.Split(string(log), "\n") {
		if v, ok := strings.CutPrefix(line, "tick "); ok {
			if v != strconv.Itoa(next) {
				t.Fatalf("console has tick %s where %d was due: output lost across the execve", v, next)
			}
			next++
		}
		if strings.HasPrefix(line, "hutch-init:") && !strings.HasPrefix(line, ExitMarker) {
			t.Fatalf("init complained: %s", line)
		}
	}
}

// lastTick is the highest "tick N" in the console log.
func lastTick(t *testing.T, dir string) int {
	log, _ := logged(t, dir)
	n := 0
	for _, line := range strings.Split(string(log), "\n") {
		if v, ok := strings.CutPrefix(line, "tick "); ok {
			if i, err := strconv.Atoi(v); err == nil && i > n {
				n = i
			}
		}
	}
	return n
}

// execCount is the value of ExecCountFlag on pid's command line, or "".
func execCount(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(string(b), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == ExecCountFlag {
			return args[i+1]
		}
	}
	return ""
}

// countFlag counts flag on pid's command line.
func countFlag(pid int, flag string) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.Count(string(b), "\x00"+flag+"\x00")
}

// procField is field n (from 1) of /proc/<pid>/stat.
func procField(t *testing.T, pid, n int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[n-3]
}

// statusLine is the value of a line of /proc/<pid>/status.
func statusLine(t *testing.T, pid int, key string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestReexecKeepsAgentToken: the agent's token (protocol.TokenEnv)
// reaches the agent init restarts after it executed itself, and still no
// other process, nor init's command line.
func TestReexecKeepsAgentToken(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("init takes another real uid for its execve, which needs root")
	}
	bin := buildInit(t)
	work := t.TempDir()
	lnf := agentListener(t, work)
	const token = "s3cret-token"
	// The test binary's "agent" is another idling init: it shows the
	// environment init gives the agent.
	cmd := exec.Command(bin, "init", AgentFDFlag, "3", "--", "sh", "-c",
		`echo "[$`+protocol.TokenEnv+`]" > `+work+`/env; echo $$ > `+work+`/pid; exec sleep 600`)
	cmd.Env = append(os.Environ(), protocol.TokenEnv+"="+token)
	cmd.ExtraFiles = []*os.File{lnf}
	init, _ := startInit(t, cmd, nil)
	child := readPID(t, "the workload to start", filepath.Join(work, "pid"))
	if b, _ := os.ReadFile(filepath.Join(work, "env")); string(b) != "[]\n" {
		t.Fatalf("the workload sees the token: %q", b)
	}
	var agent int
	poll.Until(t, "the agent to start", func() bool { agent = otherChild(t, init, child); return agent > 0 })
	if err := syscall.Kill(init, ReexecSignal); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "init to execute itself", func() bool { return execCount(init) == "1" })
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", init)); strings.Contains(string(b), token) {
		t.Fatalf("the token is on init's command line: %q", b)
	}
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var again int
	poll.Until(t, "init to restart the agent", func() bool {
		again = otherChild(t, init, child)
		return again != 0 && again != agent
	})
	// In a session of its own, the agent outlives init's kill.
	t.Cleanup(func() { _ = syscall.Kill(again, syscall.SIGKILL) })
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", again))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains("\x00"+string(env), "\x00"+protocol.TokenEnv+"="+token+"\x00") {
		t.Fatalf("the agent init restarted has no token: %q", env)
	}
	// Go's secure mode, in which init executed itself, set GOTRACEBACK.
	if _, set := os.LookupEnv("GOTRACEBACK"); !set && strings.Contains("\x00"+string(env), "\x00GOTRACEBACK=") {
		t.Fatalf("the agent init restarted gets GOTRACEBACK: %q", env)
	}
}

// otherChild is init's child that is not child (the agent), or 0.
func otherChild(t *testing.T, init, child int) int {
	t.Helper()
	// Each thread lists the children it forked.
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", init))
	var all []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all = append(all, strings.Fields(string(b))...)
	}
	for _, f := range all {
		if pid, _ := strconv.Atoi(f); pid != child && pid > 0 {
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(st), ") Z ") {
				return pid
			}
		}
	}
	return 0
}
