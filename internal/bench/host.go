package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// describeHost reads what the report says about the machine.
func describeHost() Host {
	h := Host{CPUs: runtime.NumCPU(), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if m, err := meminfo(); err == nil {
		h.MemTotalMB = m["MemTotal"] >> 20
	}
	return h
}

// loadAverage is the 1-minute load average (0 when unreadable).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// meminfo reads /proc/meminfo in bytes.
func meminfo() (map[string]int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 2 && f[2] == "kB" {
			v <<= 10
		}
		out[strings.TrimSuffix(f[0], ":")] = v
	}
	return out, nil
}

// hostUsedBytes is MemTotal - MemAvailable: what the host could not give
// a new process without reclaiming.
func hostUsedBytes() (int64, error) {
	m, err := meminfo()
	if err != nil {
		return 0, err
	}
	avail, ok := m["MemAvailable"]
	if !ok {
		return 0, fmt.Errorf("/proc/meminfo has no MemAvailable")
	}
	return m["MemTotal"] - avail, nil
}

// procRSS is a process's resident memory.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// cgroupRoot is where the cgroup v1 hierarchy of controller ctrl is
// mounted ("" when there is none: a cgroup v2 host, which this bench
// does not read yet).
func cgroupRoot(ctrl string) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(f[3], ",") {
			if opt == ctrl {
				return f[1]
			}
		}
	}
	return ""
}

// cgroupMounts lists where every cgroup hierarchy is mounted.
func cgroupMounts() []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[2] == "cgroup" || f[2] == "cgroup2") {
			out = append(out, f[1])
		}
	}
	return out
}

// sandboxCgroupBytes is the memory charged to sandbox id's cgroup, which
// the oci driver names hutch/<id> in every hierarchy. ok is false when
// there is no such cgroup (another runtime, another host).
func sandboxCgroupBytes(root, id string) (int64, bool) {
	if root == "" {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(root, "hutch", id, "memory.usage_in_bytes"))
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}
