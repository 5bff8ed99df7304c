package oci

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// A task frozen while it waits for a vfork child cannot be dumped. Go's
// os/exec starts a command with clone(CLONE_VFORK), so a thread of init
// or the agent that starts a process waits in the kernel until the child
// executes. CRIU stops the child first, and then the parent can never
// reach a stop. After its 10 s timeout it fails with "Unseizable
// non-zombie <tid> found, state D", and a second try finds the sandbox
// frozen in the same state: TestCheckpointDiscardedByStop failed so in
// CI, its checkpoint coming while init started the workload (under disk
// load, 4 runs in 12 here). So the dump first lets the sandbox run in
// short spells until no task waits so (0 in 12, 5 of them after spells).

// vforkSettleMax bounds how long a checkpoint lets the sandbox finish
// its vforks; vforkSpell is one thawed spell.
const (
	vforkSettleMax = 3 * time.Second
	vforkSpell     = 20 * time.Millisecond
)

// vforkWait reports whether a task whose /proc/<tid>/wchan reads wchan
// waits for a vfork child (wait_for_vfork_done, which the kernel may
// inline into kernel_clone).
func vforkWait(wchan string) bool {
	w := strings.TrimSpace(wchan)
	return w == "wait_for_vfork_done" || w == "kernel_clone"
}

// vforking lists the tasks (threads) of sandbox id that wait for a vfork
// child.
func (c *cgroupFS) vforking(id string) []int {
	var out []int
	for _, tid := range c.tasks(id) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", tid)); err == nil && vforkWait(string(b)) {
			out = append(out, tid)
		}
	}
	return out
}

// settleVforks lets frozen sandbox id run in short spells until none of
// its tasks waits for a vfork child, or vforkSettleMax has passed (then
// the dump tries anyway). It returns how many spells it took.
func (d *Driver) settleVforks(id string) (int, error) {
	deadline := time.Now().Add(vforkSettleMax)
	spells := 0
	for len(d.cg.vforking(id)) > 0 && time.Now().Before(deadline) {
		if err := d.thawFor(id, vforkSpell); err != nil {
			return spells, err
		}
		spells++
	}
	return spells, nil
}
