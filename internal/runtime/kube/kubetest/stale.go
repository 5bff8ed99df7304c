package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A test binary that dies (a panic, go test's timeout, SIGKILL) takes k3s
// and containerd with it (Pdeathsig) but leaves their pods' processes,
// cgroups, mounts, bridge and data directory. Each new cluster first
// removes those of clusters whose owner is gone.

// ownerFile names the process that made a data directory.
const ownerFile = "owner"

// processID is a pid with its start time, which a reused pid does not
// share.
func processID(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// Fields after the command (which may hold spaces) start at ") ".
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return ""
	}
	return fmt.Sprintf("%d %s", pid, fields[19]) // starttime, field 22 of stat
}

func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(processID(os.Getpid())), 0o600)
}

// sweepStale tears down the clusters under parent whose owner is gone.
func sweepStale(parent string, logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "hutch-k3s-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // being made, or not ours
		}
		var pid int
		if _, err := fmt.Sscanf(string(b), "%d", &pid); err != nil || processID(pid) == string(b) {
			continue
		}
		id := strings.TrimPrefix(filepath.Base(dir), "hutch-k3s-")
		c := &Cluster{
			Dir: dir, Bridge: "hk3s" + id, id: id, cgroupRoot: "/hutch-k3s-" + id,
			ctrSock: filepath.Join(dir, "containerd.sock"),
			before:  snapshotHost(), // what is on the host now stays: only the dead cluster's own things go
		}
		// The shims' socket directory goes when empty, as the dead
		// cluster's own Close would have done.
		delete(c.before.existing, "/run/containerd/s")
		delete(c.before.existing, "/run/containerd")
		if err := c.Close(); err != nil {
			logf("kubetest: removing the stale cluster in %s: %v", dir, err)
		} else {
			logf("kubetest: removed the stale cluster in %s", dir)
		}
	}
}
