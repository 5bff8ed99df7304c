package runtimetest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// AssertGone checks on the host that nothing of sandbox id is left: no
// mount (the network namespace's included), no cgroup in any hierarchy, no
// process, no loop device, no network interface whose alias names it, no
// iptables rule or chain that mentions it.
func AssertGone(t *testing.T, id string) {
	t.Helper()
	for _, leak := range leftovers(id) {
		t.Errorf("sandbox %s left behind: %s", id, leak)
	}
}

// Leftovers lists what is left on the host of sandbox id (empty when
// nothing is), for callers that wait for a teardown to finish.
func Leftovers(id string) []string { return leftovers(id) }

func leftovers(id string) []string {
	var out []string
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	var cgroupRoots []string
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, id) {
			out = append(out, "mount: "+line)
		}
		f := strings.Fields(line)
		for i, v := range f {
			if v == "-" && i+1 < len(f) && (f[i+1] == "cgroup" || f[i+1] == "cgroup2") {
				cgroupRoots = append(cgroupRoots, f[4])
			}
		}
	}
	for _, root := range cgroupRoots {
		for _, pattern := range []string{"*" + id + "*", "*/*" + id + "*", "*/*/*" + id + "*"} {
			m, _ := filepath.Glob(filepath.Join(root, pattern))
			for _, dir := range m {
				out = append(out, "cgroup: "+dir)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), id) {
			out = append(out, "process: "+filepath.Dir(p))
		}
	}
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, l := range loops {
		if b, err := os.ReadFile(l); err == nil && strings.Contains(string(b), id) {
			out = append(out, "loop device: "+l)
		}
	}
	return append(out, networkLeftovers(id)...)
}

// networkLeftovers finds interfaces whose alias names id (drivers tag
// their veths so) and firewall rules that mention it.
func networkLeftovers(id string) []string {
	var out []string
	aliases, _ := filepath.Glob("/sys/class/net/*/ifalias")
	for _, a := range aliases {
		if b, err := os.ReadFile(a); err == nil && strings.Contains(string(b), id) {
			out = append(out, "network interface: "+filepath.Base(filepath.Dir(a)))
		}
	}
	if _, err := exec.LookPath("iptables-save"); err == nil {
		rules, _ := exec.Command("iptables-save").Output()
		for _, line := range strings.Split(string(rules), "\n") {
			if strings.Contains(line, id) {
				out = append(out, "iptables: "+line)
			}
		}
	}
	return out
}

// procStatus reads a field of /proc/<pid>/status ("Uid", "Gid"...).
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

// readCounter reads the counter file through the sandbox's root as the
// host sees it, which works while the sandbox is frozen.
func readCounter(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/tmp/counter", pid))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}
