package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// adoptOrphans makes the test process the reaper of orphans it inherits:
// a server killed with SIGKILL leaves its sandboxes' inits behind, and
// the PID 1 of some machines (this one included) never reaps them, so
// their zombies would look like leaked processes. servers tells which
// children are hutch servers, whose exit exec.Cmd collects itself.
func adoptOrphans(servers func(pid int) bool) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Println("e2e: cannot become a subreaper:", err)
		return
	}
	self := os.Getpid()
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			stats, _ := filepath.Glob("/proc/[0-9]*/stat")
			for _, p := range stats {
				b, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
				var pid, ppid int
				fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
				fmt.Sscanf(rest[1], "%d", &ppid)
				if ppid == self && rest[0] == "Z" && !servers(pid) {
					syscall.Wait4(pid, nil, syscall.WNOHANG, nil)
				}
			}
		}
	}()
}
