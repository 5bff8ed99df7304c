package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// adoptOrphans makes the test process the reaper of orphans it inherits:
// a server killed with SIGKILL leaves its sandboxes' inits behind, and
// the PID 1 of some machines (this one included) never reaps them, so
// their zombies would look like leaked processes. servers tells which
// children are hutch servers, whose exit exec.Cmd collects itself; the
// children in the test's own process group (os/exec's unless asked
// otherwise, such as the host probe's iptables-save) are left alone too.
func adoptOrphans(servers func(pid int) bool) {
	mine := func(pid int) bool {
		_, ok := owned.Load(pid)
		return ok || servers(pid)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Println("e2e: cannot become a subreaper:", err)
		return
	}
	self, group := os.Getpid(), strconv.Itoa(syscall.Getpgrp())
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			startMu.Lock() // no child starts between the scan and a reap
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
				if ppid == self && rest[0] == "Z" && rest[2] != group && !mine(pid) {
					syscall.Wait4(pid, nil, syscall.WNOHANG, nil)
				}
			}
			startMu.Unlock()
		}
	}()
}

var (
	// owned are the children tests started and wait for themselves
	// (the CLI, node, chromium): the orphan reaper leaves them to
	// exec.Cmd, whose Wait would otherwise fail with ECHILD.
	owned   sync.Map
	startMu sync.Mutex
)

// startOwned starts cmd as a child the orphan reaper leaves alone until
// waitOwned has collected it.
func startOwned(cmd *exec.Cmd) error {
	startMu.Lock()
	defer startMu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	owned.Store(cmd.Process.Pid, true)
	return nil
}

// waitOwned waits for a child startOwned started.
func waitOwned(cmd *exec.Cmd) error {
	defer owned.Delete(cmd.Process.Pid)
	return cmd.Wait()
}
