package oci

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupParent is where every sandbox's cgroup lives, in every hierarchy.
const cgroupParent = "hutch"

// cgroupFS knows where the host mounts its cgroup hierarchies. The driver
// reads limits and usage and drives the freezer directly through these
// files: a write is a couple of milliseconds, a runtime exec ten.
type cgroupFS struct {
	byController map[string]string // v1 controller -> mount point
	all          []string          // every cgroup mount point, v1 and v2
	unified      string            // the cgroup2 mount, if any
}

func loadCgroupFS() (*cgroupFS, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCgroupMounts(f)
}

// parseCgroupMounts reads the cgroup hierarchies from a mountinfo table.
func parseCgroupMounts(r io.Reader) (*cgroupFS, error) {
	c := &cgroupFS{byController: map[string]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, v := range fields {
			if v == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 {
			continue
		}
		// The first mount of a hierarchy is the host's (mountinfo lists
		// mounts in the order they were made): a later one, such as the
		// cgroup yard CRIU mounts for a moment while it dumps, must not
		// take its place, or every path found through it goes with it.
		mnt, fstype := fields[4], fields[sep+1]
		switch fstype {
		case "cgroup2":
			if c.unified == "" {
				c.unified = mnt
			}
			c.all = append(c.all, mnt)
		case "cgroup":
			c.all = append(c.all, mnt)
			for _, o := range strings.Split(fields[sep+3], ",") {
				if o == "rw" || o == "ro" || strings.Contains(o, "=") || c.byController[o] != "" {
					continue
				}
				c.byController[o] = mnt
			}
		}
	}
	if c.byController["freezer"] == "" || c.byController["memory"] == "" {
		return nil, errors.New("oci: needs cgroup v1 freezer and memory hierarchies (cgroup v2-only hosts are not supported yet)")
	}
	return c, sc.Err()
}

// prepareForCrun makes the cgroup2 hierarchy controller-free, which crun
// requires on a hybrid host: every controller still on cgroup2 gets a v1
// hierarchy of its own.
func (c *cgroupFS) prepareForCrun(log *slog.Logger) error {
	if c.unified == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.unified, "cgroup.controllers"))
	if err != nil {
		return err
	}
	for _, ctrl := range strings.Fields(string(b)) {
		dir := filepath.Join(filepath.Dir(c.unified), ctrl)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("controller %s is on cgroup2: %w", ctrl, err)
		}
		if err := syscall.Mount("cgroup", dir, "cgroup", 0, ctrl); err != nil {
			return fmt.Errorf("controller %s is on cgroup2 and cannot move to v1: %w", ctrl, err)
		}
		log.Info("mounted a cgroup v1 hierarchy so that crun accepts this hybrid host", "controller", ctrl, "at", dir)
		c.byController[ctrl] = dir
		c.all = append(c.all, dir)
	}
	return nil
}

// path is the sandbox's cgroup directory in the hierarchy of ctrl.
func (c *cgroupFS) path(ctrl, id string) string {
	return filepath.Join(c.byController[ctrl], cgroupParent, id)
}

func (c *cgroupFS) read(ctrl, id, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(c.path(ctrl, id), file))
	return strings.TrimSpace(string(b)), err
}

func (c *cgroupFS) readInt(ctrl, id, file string) (int64, error) {
	s, err := c.read(ctrl, id, file)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// setFreezer writes a freezer state and waits until the kernel reports
// it. A v1 freeze can stall in FREEZING when it races a task being
// created (a sandbox paused right after it booted); thawing for a moment
// and freezing again gets it through.
func (c *cgroupFS) setFreezer(id, state string) error {
	file := filepath.Join(c.path("freezer", id), "freezer.state")
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 0; ; attempt++ {
		if err := os.WriteFile(file, []byte(state), 0); err != nil {
			return err
		}
		for i := 0; i < 50; i++ {
			got, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(got)) == state {
				return nil
			}
			time.Sleep(time.Duration(i+1) * 100 * time.Microsecond)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("freezer of %s did not reach %s after %d attempts", id, state, attempt+1)
		}
		if state == "FROZEN" {
			_ = os.WriteFile(file, []byte("THAWED"), 0)
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// frozen reports whether the sandbox's freezer cgroup is frozen.
func (c *cgroupFS) frozen(id string) bool {
	s, err := c.read("freezer", id, "freezer.state")
	return err == nil && s != "THAWED"
}

// procs lists every process of the sandbox, from the pids hierarchy.
func (c *cgroupFS) procs(id string) []int { return c.readIDs("pids", id, "cgroup.procs") }

// tasks lists every task (thread) of the sandbox, from the freezer
// hierarchy.
func (c *cgroupFS) tasks(id string) []int { return c.readIDs("freezer", id, "tasks") }

// readIDs reads a cgroup file of pids or tids, one a line; none when it
// cannot be read.
func (c *cgroupFS) readIDs(ctrl, id, file string) []int {
	s, err := c.read(ctrl, id, file)
	if err != nil {
		return nil
	}
	var ids []int
	for _, f := range strings.Fields(s) {
		if p, err := strconv.Atoi(f); err == nil {
			ids = append(ids, p)
		}
	}
	return ids
}

// signalAll sends sig to every process of the sandbox.
func (c *cgroupFS) signalAll(id string, sig syscall.Signal) {
	for _, p := range c.procs(id) {
		_ = syscall.Kill(p, sig)
	}
}

// oomKills reads the memory cgroup's OOM kill counter.
func (c *cgroupFS) oomKills(id string) int64 {
	s, err := c.read("memory", id, "memory.oom_control")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// remove deletes the sandbox's cgroup from every hierarchy. A cgroup whose
// last task is still exiting refuses rmdir for a moment, hence the retries.
func (c *cgroupFS) remove(id string) error {
	var errs []error
	for _, root := range c.all {
		dir := filepath.Join(root, cgroupParent, id)
		var err error
		for i := 0; i < 200; i++ {
			if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
				err = nil
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
