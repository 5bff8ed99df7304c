package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// UserOOMScoreBonus is how much more the OOM killer prefers the user's
// processes in a sandbox to its init and agent, out of the kernel's 1000:
// the runtime starts init this much below the user's value (negative on
// a host whose server runs at 0), the agent keeps init's value, and the
// command init runs and every process the agent starts are raised by it
// (Ranked). Killing init ends the sandbox and killing the agent cuts the
// host off from it; killing any other process costs only that process.
//
// Going below the value a process inherited takes CAP_SYS_RESOURCE in
// the host's user namespace, which a sandbox never has: the runtime, which
// has it, sets init's value, and that value is also the floor below which
// nothing in the sandbox can go.
const UserOOMScoreBonus = 500

// oomMu serialises starts: oom_score_adj belongs to the whole process,
// and a start must not see another start's value.
var oomMu sync.Mutex

// Ranked runs start (which forks the user's process) with this process's
// oom_score_adj raised by UserOOMScoreBonus, and restores it after. A
// child takes its parent's value at fork, and the parent may raise its
// own and go back down to where it started, so raising for the fork
// leaves no window: unlike writing the child's value after the start,
// nothing the child forks in between keeps the parent's lower value.
func Ranked(start func() error) error {
	oomMu.Lock()
	defer oomMu.Unlock()
	own, err := readOOMScoreAdj("self")
	if err != nil {
		return start()
	}
	if err := writeOOMScoreAdj(min(own+UserOOMScoreBonus, 1000)); err != nil {
		fmt.Fprintf(os.Stderr, "hutch: oom_score_adj: %v\n", err)
		return start()
	}
	startErr := start()
	if err := writeOOMScoreAdj(own); err != nil {
		fmt.Fprintf(os.Stderr, "hutch: oom_score_adj: %v\n", err)
	}
	return startErr
}

// startRanked starts cmd as a user's process (Ranked).
func startRanked(cmd *exec.Cmd) error { return Ranked(cmd.Start) }

// startAtOwn starts cmd at this process's own value: not while a Ranked
// start has it raised.
func startAtOwn(cmd *exec.Cmd) error {
	oomMu.Lock()
	defer oomMu.Unlock()
	return cmd.Start()
}

// Untraceable makes this process not dumpable, so that nothing in the
// sandbox can ptrace it, read its memory or open its descriptors (the
// agent's listening socket) through /proc: the kernel then asks for
// CAP_SYS_PTRACE over the sandbox's user namespace, which no sandbox
// process holds. A program init or the agent executes is dumpable again,
// so the user's own processes stay traceable.
func Untraceable() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

func readOOMScoreAdj(pid string) (int, error) {
	b, err := os.ReadFile("/proc/" + pid + "/oom_score_adj")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func writeOOMScoreAdj(v int) error {
	return os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(v)), 0)
}
