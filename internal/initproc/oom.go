package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// UserOOMScoreBonus is how much more the OOM killer prefers every other
// process of a sandbox to its init: the command init runs and the agent
// (so every process the agent starts for the user, which inherits its
// value) score this much above init, out of the kernel's 1000. Killing
// init ends the sandbox; killing any other process costs only that
// process (init restarts the agent).
//
// Lowering a value below the one inherited takes CAP_SYS_RESOURCE, which
// a sandbox never has (nor, on some hosts, does the server), so init is
// protected by ranking the others above it rather than itself below them.
const UserOOMScoreBonus = 500

// oomMu serialises starts: oom_score_adj belongs to the whole process,
// and a start must not see another start's value.
var oomMu sync.Mutex

// startRanked starts cmd with an oom_score_adj UserOOMScoreBonus above
// init's own. A child takes its parent's value at fork, and the parent may
// raise its own and go back down to where it started, so init raises its
// value for the fork and restores it after: unlike writing the child's
// value after the start, nothing the child forks in between escapes.
func startRanked(cmd *exec.Cmd) error {
	oomMu.Lock()
	defer oomMu.Unlock()
	own, err := readOOMScoreAdj("self")
	if err != nil {
		return cmd.Start()
	}
	if err := writeOOMScoreAdj(min(own+UserOOMScoreBonus, 1000)); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: oom_score_adj: %v\n", err)
		return cmd.Start()
	}
	startErr := cmd.Start()
	if err := writeOOMScoreAdj(own); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: oom_score_adj: %v\n", err)
	}
	return startErr
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
