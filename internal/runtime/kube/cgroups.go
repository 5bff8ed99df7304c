package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/podinit"
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

// bootState asks the pod's boot what state the sandbox is in: FROZEN,
// THAWED, or HELD (a prepared pod not taken yet); THAWED for a pod booted
// without a control port.
func (d *Driver) bootState(ctx context.Context, pod *corev1.Pod) (string, error) {
	if controlPort(pod) == 0 || containerID(pod) == "" {
		return podinit.StateThawed, nil
	}
	state, err := d.control(ctx, pod, podinit.ControlState)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) {
		// Boot listens before init starts, and a boot that is ending
		// (killed, the pod deleted) closes or resets the connection:
		// nothing of the sandbox runs yet (or any more).
		return podinit.StateThawed, nil
	}
	return state, err
}

// controlPort is the port of the pod's boot's freeze control, 0 when it
// has none (a pod made by an older driver).
func controlPort(pod *corev1.Pod) int {
	for _, c := range pod.Spec.Containers {
		if c.Name != containerSandbox {
			continue
		}
		for i, a := range c.Command {
			if a == "--" {
				break
			}
			if a == "--control-port" && i+1 < len(c.Command) {
				n, _ := strconv.Atoi(c.Command[i+1])
				return n
			}
		}
	}
	return 0
}

// control sends one command to the pod's boot, after the pod's token,
// and returns the state it answers once the command is done.
func (d *Driver) control(ctx context.Context, pod *corev1.Pod, cmd string) (string, error) {
	port, token := controlPort(pod), podToken(pod)
	if port == 0 {
		return "", fmt.Errorf("pod %s was booted without a freeze control: %w", pod.Name, errors.ErrUnsupported)
	}
	if pod.Status.PodIP == "" || token == "" {
		return "", fmt.Errorf("pod %s has no address or token yet: %w", pod.Name, errdefs.ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := d.cfg.Dial(ctx, "tcp", net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)))
	if err != nil {
		return "", fmt.Errorf("dial the freeze control of %s: %w", pod.Name, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.Write(append(protocol.TokenLine(token), cmd+"\n"...)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("freeze control of %s: %w", pod.Name, err)
	}
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		return "", fmt.Errorf("freeze control of %s: %s", pod.Name, msg)
	}
	return line, nil
}

// Pause freezes the sandbox's processes (a child cgroup of the pod's
// container, frozen by its boot): they keep their memory and the pod
// stays Running in the API.
func (d *Driver) Pause(ctx context.Context, id string) error {
	return d.freeze(ctx, id, podinit.ControlFreeze, podinit.StateFrozen)
}

// Resume thaws a paused sandbox.
func (d *Driver) Resume(ctx context.Context, id string) error {
	return d.freeze(ctx, id, podinit.ControlThaw, podinit.StateThawed)
}

func (d *Driver) freeze(ctx context.Context, id, cmd, want string) error {
	k, err := key(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(k)()
	pod, err := d.runningPod(ctx, id, k)
	if err != nil {
		return err
	}
	got, err := d.control(ctx, pod, cmd)
	if err == nil && got != want {
		err = fmt.Errorf("sandbox %s is %s, not %s", id, got, want)
	}
	return err
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

// Stats reads the sandbox container's cgroups (the CPU time of the
// sandbox's child cgroup, where boot runs the sandbox): on the node when
// the driver sees it, through the pod's boot otherwise (which answers
// while the sandbox is paused).
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
		return d.bootStats(ctx, pod)
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
	if cpu, err = read("cpuacct", podinit.FreezeChild+"/cpuacct.usage"); err != nil {
		get(&cpu, "cpuacct", "cpuacct.usage") // a pod booted without the child
	}
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

// bootStats asks the pod's boot for the sandbox's counters, which it
// answers while the sandbox (the agent too) is paused.
func (d *Driver) bootStats(ctx context.Context, pod *corev1.Pod) (runtime.Stats, error) {
	line, err := d.control(ctx, pod, podinit.ControlStats)
	if err != nil {
		return runtime.Stats{}, err
	}
	var st runtime.Stats
	var cpu int64
	fields := map[string]*int64{"cpu": &cpu, "memory": &st.MemoryBytes, "limit": &st.MemoryLimit, "oom": &st.OOMKills, "pids": &st.Pids}
	for _, f := range strings.Fields(line) {
		name, v, _ := strings.Cut(f, "=")
		if dst := fields[name]; dst != nil {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				return runtime.Stats{}, fmt.Errorf("stats of %s: %q", pod.Name, line)
			}
		}
	}
	st.CPUUsage = time.Duration(cpu)
	return st, nil
}
