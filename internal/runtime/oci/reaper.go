package oci

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// reaper owns the waits for the processes this server inherits. The
// driver makes the server a child subreaper, so that a sandbox's init
// becomes its child when the runtime that started it exits; so does every
// other process the runtime leaves behind (crun forks a helper that
// outlives it on every run). Nobody else waits for these: without the
// reaper each stays a zombie holding a pid, one or two per create and
// start.
//
// os/exec waits for the children it starts and must find them unreaped,
// so the reaper leaves two kinds of children alone: those in this
// process's own process group, where os/exec children stay unless asked
// otherwise, whichever package started them; and those the driver started
// through start, which may leave the group (the runtime binary calls
// setsid) and are registered from before their fork until their Wait
// returns. Every other child that ends is an orphan it adopted.
//
// Being a subreaper is a property of the process, so there is one reaper
// per process, shared by every Driver in it (tests make several).
type reaper struct {
	mu   sync.Mutex
	pgid int
	// own are the children started through start whose Wait is pending.
	own map[int]struct{}
	// expected are the processes whose exit status someone will ask for
	// (sandbox inits), and statuses those of them already reaped.
	expected map[procID]struct{}
	statuses map[procID]int
}

// procID names a process across pid reuse: its pid and its start time.
type procID struct {
	pid   int
	start uint64
}

var (
	reaperOnce sync.Once
	theReaper  *reaper
	reaperErr  error
)

// processReaper makes this process a child subreaper and starts its
// reaper, once.
func processReaper() (*reaper, error) {
	reaperOnce.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			reaperErr = fmt.Errorf("become subreaper: %w", err)
			return
		}
		theReaper = newReaper()
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGCHLD)
		go func() {
			theReaper.sweep() // orphans adopted before the first signal
			for range sigs {
				theReaper.sweep()
			}
		}()
	})
	return theReaper, reaperErr
}

func newReaper() *reaper {
	return &reaper{
		pgid:     unix.Getpgrp(),
		own:      map[int]struct{}{},
		expected: map[procID]struct{}{},
		statuses: map[procID]int{},
	}
}

// start starts cmd and keeps the reaper off it until wait. The reaper is
// held from before the fork until the pid is registered, so that no sweep
// can find the child unregistered.
func (r *reaper) start(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.own[cmd.Process.Pid] = struct{}{}
	return nil
}

// wait waits for a command started with start.
func (r *reaper) wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	r.mu.Lock()
	delete(r.own, cmd.Process.Pid)
	r.mu.Unlock()
	return err
}

// run is start and wait.
func (r *reaper) run(cmd *exec.Cmd) error {
	if err := r.start(cmd); err != nil {
		return err
	}
	return r.wait(cmd)
}

// combinedOutput is exec.Cmd.CombinedOutput through start and wait.
func (r *reaper) combinedOutput(cmd *exec.Cmd) ([]byte, error) {
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	err := r.run(cmd)
	return []byte(b.String()), err
}

// expect asks the reaper to keep the exit status of p (a sandbox's init)
// for exitStatus.
func (r *reaper) expect(p procID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expected[p] = struct{}{}
}

// exitStatus returns the exit status of p, in the shell's form (128+signal
// when it was killed), when p was a child of this process that has ended:
// reaped already, or a zombie reaped now. It forgets p either way.
func (r *reaper) exitStatus(p procID) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.expected, p)
	if status, ok := r.statuses[p]; ok {
		delete(r.statuses, p)
		return status, true
	}
	st, err := readProcStat(p.pid)
	if err != nil || !st.zombie || st.start != p.start || st.ppid != os.Getpid() {
		return 0, false
	}
	return reapPID(p.pid)
}

// sweep waits for every ended child that is neither in this process's
// group nor registered by start.
func (r *reaper) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pid := range childPIDs() {
		if _, ok := r.own[pid]; ok {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || !st.zombie || st.pgid == r.pgid {
			continue
		}
		status, ok := reapPID(pid)
		if !ok {
			continue
		}
		p := procID{pid, st.start}
		if _, ok := r.expected[p]; ok {
			delete(r.expected, p)
			r.statuses[p] = status
		}
	}
}

// reapPID waits for the ended child pid without blocking.
func reapPID(pid int) (int, bool) {
	var ws unix.WaitStatus
	for {
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || got != pid {
			return 0, false
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}

// childPIDs lists this process's children from the children file of each
// of its threads (a reparented orphan lands on one of them), or, on a
// kernel without those files, from the parent field of every process.
func childPIDs() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var out []int
	read := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		read = true
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				out = append(out, pid)
			}
		}
	}
	if read {
		return out
	}
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.ppid == self {
			out = append(out, pid)
		}
	}
	return out
}

// procStat is what the reaper reads of /proc/<pid>/stat.
type procStat struct {
	zombie     bool
	ppid, pgid int
	start      uint64
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return procStat{}, fmt.Errorf("bad stat for %d", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("bad stat for %d", pid)
	}
	var st procStat
	st.zombie = f[0] == "Z" || f[0] == "X"
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, err
	}
	if st.pgid, err = strconv.Atoi(f[2]); err != nil {
		return procStat{}, err
	}
	if st.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procStat{}, err
	}
	return st, nil
}
