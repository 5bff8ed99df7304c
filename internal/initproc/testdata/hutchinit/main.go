// Command hutchinit is the init binary of the runtime tests: the same code
// path as "hutch init", built statically by the tests themselves.
//
// With HUTCHINIT_AGENT_PROBE set to a directory, its "agent" (what init
// starts as the agent) writes there, as agent-<pid>, what it had from its
// execve and what it has once it put back what that execve changed
// (initproc.RestoreAgentExec), then sleeps.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/initproc"
	"golang.org/x/sys/unix"
)

func main() {
	if dir := os.Getenv("HUTCHINIT_AGENT_PROBE"); dir != "" && len(os.Args) > 1 && os.Args[1] == "agent" {
		probeAgent(dir, os.Args[2:])
	}
	os.Exit(initproc.Run(os.Args[1:]))
}

func probeAgent(dir string, args []string) {
	// First: nothing in this process has changed its dumpability yet.
	out := "exec " + state()
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--"+initproc.AgentExecFlag {
			if err := initproc.RestoreAgentExec(args[i+1]); err != nil {
				out += "restore: " + err.Error() + "\n"
			}
		}
	}
	out += "restored " + state()
	tmp := filepath.Join(dir, fmt.Sprintf(".agent-%d", os.Getpid()))
	if err := os.WriteFile(tmp, []byte(out), 0o644); err == nil {
		_ = os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("agent-%d", os.Getpid())))
	}
	for {
		time.Sleep(time.Hour)
	}
}

// state is one line: dumpable, the Uid and Gid lines of /proc/self/status,
// GOTRACEBACK and the soft RLIMIT_STACK.
func state() string {
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		d = -1
	}
	var ids []string
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
			ids = append(ids, strings.Join(strings.Fields(l), " "))
		}
	}
	tb, set := os.LookupEnv("GOTRACEBACK")
	if !set {
		tb = "(unset)"
	}
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_STACK, &lim)
	return fmt.Sprintf("dumpable=%d|%s|GOTRACEBACK=%s|stack=%d\n", d, strings.Join(ids, "|"), tb, lim.Cur)
}
