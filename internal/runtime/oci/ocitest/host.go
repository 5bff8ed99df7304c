package ocitest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// scan looks for sandbox id everywhere the driver puts it: a mount (the
// network namespace's included), a cgroup in any hierarchy, a process, a
// loop device, a network interface whose alias names it (drivers tag
// their veths so), an iptables rule or chain that mentions it.
func scan(ctx context.Context, id string) ([]string, error) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, id) {
			out = append(out, "mount: "+line)
		}
	}
	for _, m := range cgroupMounts(string(mounts)) {
		for _, pattern := range []string{"*" + id + "*", "*/*" + id + "*", "*/*/*" + id + "*"} {
			dirs, _ := filepath.Glob(filepath.Join(m.dir, pattern))
			for _, dir := range dirs {
				out = append(out, "cgroup: "+dir)
			}
		}
	}
	for _, pid := range pidsOf(id) {
		name, _ := procStatus(pid, "Name")
		state, _ := procStatus(pid, "State")
		out = append(out, fmt.Sprintf("process: /proc/%d (%s, %s)", pid, name, state))
	}
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, l := range loops {
		if b, err := os.ReadFile(l); err == nil && strings.Contains(string(b), id) {
			out = append(out, "loop device: "+l)
		}
	}
	aliases, _ := filepath.Glob("/sys/class/net/*/ifalias")
	for _, a := range aliases {
		if b, err := os.ReadFile(a); err == nil && strings.Contains(string(b), id) {
			out = append(out, "network interface: "+filepath.Base(filepath.Dir(a)))
		}
	}
	if _, err := exec.LookPath("iptables-save"); err == nil {
		rules, err := exec.CommandContext(ctx, "iptables-save").Output()
		if err != nil {
			return out, fmt.Errorf("iptables-save: %w", err)
		}
		for _, line := range strings.Split(string(rules), "\n") {
			if strings.Contains(line, id) {
				out = append(out, "iptables: "+line)
			}
		}
	}
	return out, nil
}

// cgroupMount is one cgroup hierarchy as mounted here.
type cgroupMount struct {
	dir, root   string
	v2          bool
	controllers []string
}

func cgroupMounts(mountinfo string) []cgroupMount {
	var out []cgroupMount
	for _, line := range strings.Split(mountinfo, "\n") {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		f := strings.Fields(line)
		for i, v := range f {
			if v != "-" || i+3 >= len(f) || len(f) < 5 {
				continue
			}
			switch f[i+1] {
			case "cgroup2":
				out = append(out, cgroupMount{dir: f[4], root: f[3], v2: true})
			case "cgroup":
				out = append(out, cgroupMount{dir: f[4], root: f[3], controllers: strings.Split(f[i+3], ",")})
			}
			break
		}
	}
	return out
}

// pidsOf lists the processes, zombies included, whose cgroups name id.
func pidsOf(id string) []int {
	var out []int
	files, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), id) {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// livePIDs is pidsOf without the zombies, which hold no memory and run
// nothing.
func livePIDs(id string) []int {
	var out []int
	for _, pid := range pidsOf(id) {
		if st, err := procStatus(pid, "State"); err == nil && !strings.HasPrefix(st, "Z") {
			out = append(out, pid)
		}
	}
	return out
}

// pidFrozen reads the freezer of pid's cgroup: freezer.state in a v1
// freezer hierarchy, else cgroup.events in the v2 one.
func pidFrozen(pid int) (bool, error) {
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	own, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false, err
	}
	v1, v2 := map[string]string{}, ""
	for _, line := range strings.Split(string(own), "\n") {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			v1[c] = parts[2]
		}
	}
	for _, m := range cgroupMounts(string(mountinfo)) {
		if path, ok := v1["freezer"]; ok && !m.v2 && slices.Contains(m.controllers, "freezer") {
			s, err := os.ReadFile(filepath.Join(m.dir, strings.TrimPrefix(path, m.root), "freezer.state"))
			return strings.TrimSpace(string(s)) == "FROZEN", err
		}
	}
	for _, m := range cgroupMounts(string(mountinfo)) {
		if m.v2 && v2 != "" {
			events, err := os.ReadFile(filepath.Join(m.dir, strings.TrimPrefix(v2, m.root), "cgroup.events"))
			return strings.Contains(string(events), "frozen 1"), err
		}
	}
	return false, errors.New("no freezer for pid " + strconv.Itoa(pid))
}

// procStatus reads a field of /proc/<pid>/status ("Uid", "State"...).
func procStatus(pid int, field string) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in status of %d", field, pid)
}
