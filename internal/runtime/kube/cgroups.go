package kube

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// The node's view of a pod: the sandbox container's cgroup, found under
// Config.NodeCgroups by the pod's UID and the container's ID (both the
// kubelet's cgroupfs layout, .../pod<uid>/<id>, and its systemd one,
// ...-pod<uid_>.slice/cri-containerd-<id>.scope, are recognised). Only a
// driver running on the node has it.

// errNoNode is a call that needs the node's cgroups, which the driver
// does not see.
var errNoNode = fmt.Errorf("the kube driver does not see the node's cgroups (Config.NodeCgroups): %w", errors.ErrUnsupported)

// cgroupDir returns the sandbox container's directory in hierarchy ctrl
// ("freezer", "memory", ...; "" for the unified v2 hierarchy), or "" when
// the container is not running.
func (d *Driver) cgroupDir(pod *corev1.Pod, ctrl string) (string, error) {
	if d.cfg.NodeCgroups == "" {
		return "", errNoNode
	}
	cid := containerID(pod)
	if cid == "" {
		return "", nil
	}
	base := filepath.Join(d.cfg.NodeCgroups, ctrl, d.cfg.KubeletCgroupRoot)
	return findContainerCgroup(base, string(pod.UID), cid)
}

// containerID is the running sandbox container's ID, "" when none runs.
func containerID(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == containerSandbox && cs.State.Running != nil {
			_, id, _ := strings.Cut(cs.ContainerID, "://")
			return id
		}
	}
	return ""
}

// errFound stops the walk.
var errFound = errors.New("found")

// findContainerCgroup looks below base (at most six levels down) for the
// pod's directory and in it for the container's.
func findContainerCgroup(base, podUID, cid string) (string, error) {
	plain, systemd := "pod"+podUID, "pod"+strings.ReplaceAll(podUID, "-", "_")+".slice"
	var podDir string
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return nil
		}
		if n := e.Name(); n == plain || strings.HasSuffix(n, systemd) {
			podDir = p
			return errFound
		}
		if strings.Count(strings.TrimPrefix(p, base), "/") >= 6 {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return "", err
	}
	if podDir == "" {
		return "", nil
	}
	entries, err := os.ReadDir(podDir)
	if err != nil {
		return "", nil // gone meanwhile
	}
	for _, e := range entries {
		if e.IsDir() && strings.Contains(e.Name(), cid) {
			return filepath.Join(podDir, e.Name()), nil
		}
	}
	return "", nil
}

// frozen reports whether the pod's sandbox container is frozen (false
// where the driver cannot pause).
func (d *Driver) frozen(pod *corev1.Pod) (bool, error) {
	if d.cfg.NodeCgroups == "" {
		return false, nil
	}
	dir, err := d.cgroupDir(pod, "freezer")
	if err != nil || dir == "" {
		return false, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return strings.TrimSpace(string(b)) == "FROZEN", err
}

// setFreezer writes state to the pod's sandbox container's freezer and
// waits until the kernel has it.
func (d *Driver) setFreezer(ctx context.Context, pod *corev1.Pod, state string) error {
	dir, err := d.cgroupDir(pod, "freezer")
	if err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("sandbox's container has no cgroup on this node: %w", errdefs.ErrConflict)
	}
	f := filepath.Join(dir, "freezer.state")
	if err := os.WriteFile(f, []byte(state), 0o644); err != nil {
		return err
	}
	// FREEZING lasts milliseconds: poll at that pace, not pollEvery's.
	for {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) == state {
			return nil
		}
		_ = os.WriteFile(f, []byte(state), 0o644) // ask again
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the freezer to be %s: %w", state, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// thaw thaws the pod's container when it is frozen (nothing where the
// driver cannot pause).
func (d *Driver) thaw(pod *corev1.Pod) error {
	frozen, err := d.frozen(pod)
	if err != nil || !frozen {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.setFreezer(ctx, pod, "THAWED")
}

// Pause freezes the sandbox container's processes (the node's cgroup v1
// freezer): they keep their memory and the pod stays Running in the API.
func (d *Driver) Pause(ctx context.Context, id string) error {
	return d.freeze(ctx, id, "FROZEN")
}

// Resume thaws a paused sandbox.
func (d *Driver) Resume(ctx context.Context, id string) error {
	return d.freeze(ctx, id, "THAWED")
}

func (d *Driver) freeze(ctx context.Context, id, state string) error {
	k, err := key(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(k)()
	pod, err := d.runningPod(ctx, id, k)
	if err != nil {
		return err
	}
	return d.setFreezer(ctx, pod, state)
}

func (d *Driver) runningPod(ctx context.Context, id, k string) (*corev1.Pod, error) {
	pod, err := d.pod(ctx, k)
	if err != nil {
		return nil, err
	}
	if pod == nil {
		return nil, fmt.Errorf("sandbox %s has no pod: %w", id, errdefs.ErrNotFound)
	}
	if !podRunning(pod) || pod.DeletionTimestamp != nil {
		return nil, fmt.Errorf("sandbox %s is not running: %w", id, errdefs.ErrConflict)
	}
	return pod, nil
}

// Stats reads the sandbox container's cgroups: on the node when the
// driver sees it, through the agent otherwise (the container's cgroup
// files as its /sys/fs/cgroup shows them, read-only to the sandbox).
func (d *Driver) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	k, err := key(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	pod, err := d.runningPod(ctx, id, k)
	if err != nil {
		return runtime.Stats{}, err
	}
	if d.cfg.NodeCgroups == "" {
		return d.agentStats(ctx, pod)
	}
	read := func(ctrl, file string) (int64, error) {
		dir, err := d.cgroupDir(pod, ctrl)
		if err != nil {
			return 0, err
		}
		if dir == "" {
			return 0, fmt.Errorf("no %s cgroup for sandbox %s: %w", ctrl, id, errdefs.ErrConflict)
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return 0, err
		}
		return parseCounter(string(b), file)
	}
	var st runtime.Stats
	var errs []error
	get := func(dst *int64, ctrl, file string) {
		v, err := read(ctrl, file)
		*dst = v
		errs = append(errs, err)
	}
	var cpu int64
	get(&cpu, "cpuacct", "cpuacct.usage")
	st.CPUUsage = time.Duration(cpu)
	get(&st.MemoryBytes, "memory", "memory.usage_in_bytes")
	get(&st.MemoryLimit, "memory", "memory.limit_in_bytes")
	get(&st.OOMKills, "memory", "memory.oom_control")
	get(&st.Pids, "pids", "pids.current")
	return st, errors.Join(errs...)
}

// parseCounter reads a cgroup file's number (memory.oom_control's
// oom_kill line for that file).
func parseCounter(s, file string) (int64, error) {
	if file == "memory.oom_control" {
		for _, line := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
		return 0, nil // a kernel before 4.13 does not count
	}
	return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
}

// agentStats reads the container's cgroup v1 files (v2 where there are
// none) through the agent's file API.
func (d *Driver) agentStats(ctx context.Context, pod *corev1.Pod) (runtime.Stats, error) {
	read := func(path string) (string, error) {
		c, err := d.dialPod(ctx, pod)
		if err != nil {
			return "", err
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://agent/files?path="+url.QueryEscape(path), nil)
		resp, body, err := roundTrip(ctx, c, req)
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("agent: %s: %s", path, resp.Status)
		}
		return string(body), nil
	}
	var st runtime.Stats
	if _, err := read("/sys/fs/cgroup/memory/memory.usage_in_bytes"); err == nil {
		var errs []error
		get := func(dst *int64, path string) {
			s, err := read(path)
			if err == nil {
				*dst, err = parseCounter(s, filepath.Base(path))
			}
			errs = append(errs, err)
		}
		var cpu int64
		get(&cpu, "/sys/fs/cgroup/cpuacct/cpuacct.usage")
		st.CPUUsage = time.Duration(cpu)
		get(&st.MemoryBytes, "/sys/fs/cgroup/memory/memory.usage_in_bytes")
		get(&st.MemoryLimit, "/sys/fs/cgroup/memory/memory.limit_in_bytes")
		get(&st.OOMKills, "/sys/fs/cgroup/memory/memory.oom_control")
		get(&st.Pids, "/sys/fs/cgroup/pids/pids.current")
		return st, errors.Join(errs...)
	}
	// cgroup v2: the container's own directory is /sys/fs/cgroup.
	var errs []error
	field := func(path, name string) int64 {
		s, err := read(path)
		errs = append(errs, err)
		for _, line := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				return n
			}
		}
		return 0
	}
	number := func(path string) int64 {
		s, err := read(path)
		errs = append(errs, err)
		n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64) // "max": no limit
		return n
	}
	st.CPUUsage = time.Duration(field("/sys/fs/cgroup/cpu.stat", "usage_usec")) * time.Microsecond
	st.MemoryBytes = number("/sys/fs/cgroup/memory.current")
	st.MemoryLimit = number("/sys/fs/cgroup/memory.max")
	st.OOMKills = field("/sys/fs/cgroup/memory.events", "oom_kill")
	st.Pids = number("/sys/fs/cgroup/pids.current")
	return st, errors.Join(errs...)
}
