package oci

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// minCRIU is the oldest CRIU this driver uses (major, minor): Debian 12's
// 3.17 cannot dump on newer kernels ("Unexpected rt vDSO area bounds"),
// and 4.1 dumps no TCP or UDP socket on kernels from 6.16 on (it asks
// them for SO_PASSCRED, which only unix and netlink sockets answer now).
var minCRIU = [2]int{4, 2}

// criuWaitDelay bounds the wait for a killed CRIU's output.
const criuWaitDelay = 5 * time.Second

// criuCache is where scripts/build-criu.sh leaves the CRIU it builds,
// one directory per version.
const criuCache = "/var/cache/hutch/criu"

// findCRIU returns the path of a CRIU of at least minCRIU: path
// when set, else the newest in criuCache, else "criu" in PATH. missing
// says why there is none, for the API to name.
func findCRIU(path string) (bin, missing string) {
	var candidates []string
	if path != "" {
		candidates = []string{path}
	} else {
		found, _ := filepath.Glob(filepath.Join(criuCache, "*", "criu"))
		sort.Sort(sort.Reverse(sort.StringSlice(found)))
		candidates = found
		if p, err := exec.LookPath("criu"); err == nil {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return "", fmt.Sprintf("CRIU %d.%d or newer was not found (scripts/setup.sh builds it into %s)", minCRIU[0], minCRIU[1], criuCache)
	}
	var why []string
	for _, c := range candidates {
		v, err := criuVersion(c)
		if err == nil && (v[0] > minCRIU[0] || v[0] == minCRIU[0] && v[1] >= minCRIU[1]) {
			return c, ""
		}
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", c, err))
		} else {
			why = append(why, fmt.Sprintf("%s is version %d.%d", c, v[0], v[1]))
		}
	}
	return "", fmt.Sprintf("CRIU %d.%d or newer is needed (%s; scripts/setup.sh builds it into %s)",
		minCRIU[0], minCRIU[1], strings.Join(why, "; "), criuCache)
}

// criuVersion runs bin --version and returns its major and minor version.
func criuVersion(bin string) ([2]int, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return [2]int{}, err
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Version:"); ok {
			f := strings.SplitN(strings.TrimSpace(v), ".", 3)
			major, err := strconv.Atoi(f[0])
			if err != nil || len(f) < 2 {
				return [2]int{}, fmt.Errorf("version %q", v)
			}
			minor, err := strconv.Atoi(f[1])
			return [2]int{major, minor}, err
		}
	}
	return [2]int{}, fmt.Errorf("no version in %q", strings.TrimSpace(string(out)))
}

// criuRun runs CRIU with args, its log in dir/log, from a thread inside
// the network namespace at netns. CRIU then sees the sandbox's namespace
// as its own: it neither dumps it (a namespace the host owns does not
// belong to the sandbox's user namespace, which CRIU refuses) nor makes a
// new one on restore (which would hold only lo), and the sandbox's
// sockets, the agent's listener included, are found where they live.
// extra become fds 3 and up of CRIU.
//
// CRIU runs in a process group of its own, which its helpers share, so
// that one the context ends is killed with its helpers (none is left in
// this process's group, where the reaper would not collect it). Tasks a
// restore had made live in the sandbox's cgroup, for the caller to end;
// as they may hold CRIU's output open, the wait for it stops after
// criuWaitDelay.
func (d *Driver) criuRun(ctx context.Context, netns, logPath string, extra []*os.File, args ...string) error {
	return inNetns(netns, func() error {
		cmd := exec.CommandContext(ctx, d.criu, args...)
		cmd.ExtraFiles = extra
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = criuWaitDelay
		if out, err := d.reaper.combinedOutput(cmd); err != nil {
			return fmt.Errorf("criu %s: %w: %s%s", args[0], err, strings.TrimSpace(string(out)), criuErrors(logPath))
		}
		return nil
	})
}

// criuErrors returns the error lines of a CRIU log, for the message of a
// failed dump or restore.
func criuErrors(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "Error") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	if len(lines) == 0 {
		return ""
	}
	return " (" + strings.Join(lines, "; ") + ")"
}

// inNetns runs fn on a thread of its own inside the network namespace at
// path (the caller's when path is empty); the thread is thrown away
// afterwards, so the namespace never leaks to other goroutines. Processes
// fn starts are forked from that thread and begin in the namespace.
func inNetns(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
