package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/internal/runtime"
)

// Probe is the runtime suite's view of the kube driver's sandboxes from
// outside the driver (runtimetest.Probe): it asks the API server for the
// objects that carry a sandbox's id (annotation hutch.dev/id) and looks
// at the node for the pods' cgroups and processes. It knows the
// sandbox's container by the name the driver gives it.
type Probe struct {
	Cluster   *Cluster
	Namespace string
	Container string // the sandbox's container in its pod

	mu   sync.Mutex
	uids map[string][]string // sandbox id -> UIDs of its pods seen so far
}

const annotationID = "hutch.dev/id"

// Leftovers lists the sandbox's pods, claims and network policies in the
// API server and the cgroups of its pods (every pod of it the probe has
// seen) on the node.
func (p *Probe) Leftovers(ctx context.Context, _ runtime.Runtime, id string) ([]string, error) {
	var left []string
	ns := p.Cluster.Client.CoreV1()
	pods, err := ns.Pods(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, pod := range pods.Items {
		if pod.Annotations[annotationID] == id {
			p.seen(id, string(pod.UID))
			left = append(left, "pod "+pod.Name+" ("+string(pod.Status.Phase)+")")
		}
	}
	claims, err := ns.PersistentVolumeClaims(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, c := range claims.Items {
		if c.Annotations[annotationID] == id {
			left = append(left, "claim "+c.Name)
		}
	}
	policies, err := p.Cluster.Client.NetworkingV1().NetworkPolicies(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, np := range policies.Items {
		if np.Annotations[annotationID] == id {
			left = append(left, "network policy "+np.Name)
		}
	}
	for _, uid := range p.seenUIDs(id) {
		for _, dir := range p.podCgroups(uid) {
			left = append(left, "cgroup "+dir)
		}
	}
	return left, nil
}

func (p *Probe) seen(id, uid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uids == nil {
		p.uids = map[string][]string{}
	}
	for _, u := range p.uids[id] {
		if u == uid {
			return
		}
	}
	p.uids[id] = append(p.uids[id], uid)
}

func (p *Probe) seenUIDs(id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.uids[id]...)
}

// podCgroups lists the pod's cgroup directories in every hierarchy.
func (p *Probe) podCgroups(uid string) []string {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil
	}
	var dirs []string
	for _, m := range mounts {
		_ = filepath.WalkDir(filepath.Join(m, p.Cluster.cgroupRoot), func(path string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() && e.Name() == "pod"+uid {
				dirs = append(dirs, path)
				return filepath.SkipDir
			}
			return nil
		})
	}
	return dirs
}

// pod returns the sandbox's current pod (nil when it has none).
func (p *Probe) pod(ctx context.Context, id string) (*corev1.Pod, error) {
	pods, err := p.Cluster.Client.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i, pod := range pods.Items {
		if pod.Annotations[annotationID] == id {
			p.seen(id, string(pod.UID))
			return &pods.Items[i], nil
		}
	}
	return nil, nil
}

// containerCgroup is the sandbox container's directory in hierarchy
// ctrl, "" when it has none.
func (p *Probe) containerCgroup(ctx context.Context, id, ctrl string) (string, error) {
	pod, err := p.pod(ctx, id)
	if err != nil || pod == nil {
		return "", err
	}
	var cid string
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == p.Container {
			_, cid, _ = strings.Cut(cs.ContainerID, "://")
		}
	}
	if cid == "" {
		return "", nil
	}
	for _, dir := range p.podCgroups(string(pod.UID)) {
		if strings.HasPrefix(dir, filepath.Join("/sys/fs/cgroup", ctrl)+"/") {
			if _, err := os.Stat(filepath.Join(dir, cid)); err == nil {
				return filepath.Join(dir, cid), nil
			}
		}
	}
	return "", nil
}

// procs lists the live (not zombie) processes of the sandbox's container.
func (p *Probe) procs(ctx context.Context, id string) ([]int, error) {
	dir, err := p.containerCgroup(ctx, id, "pids")
	if err != nil || dir == "" {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		stat, err := os.ReadFile("/proc/" + f + "/stat")
		if err != nil {
			continue
		}
		if _, rest, ok := strings.Cut(string(stat), ") "); ok && !strings.HasPrefix(rest, "Z") {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// init is the sandbox's init: the process of its container whose parent
// is outside it (the container runtime's shim).
func (p *Probe) init(ctx context.Context, id string) (int, error) {
	pids, err := p.procs(ctx, id)
	if err != nil {
		return 0, err
	}
	in := map[int]bool{}
	for _, pid := range pids {
		in[pid] = true
	}
	for _, pid := range pids {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(string(stat), ") ")
		if f := strings.Fields(rest); len(f) > 1 {
			if ppid, _ := strconv.Atoi(f[1]); !in[ppid] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("sandbox %s has no running init on the node", id)
}

// ReadFile reads path through the sandbox init's root on the node.
func (p *Probe) ReadFile(ctx context.Context, _ runtime.Runtime, id, path string) ([]byte, error) {
	pid, err := p.init(ctx, id)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "root", path))
}

// Alive reports whether a process of the sandbox's container runs.
func (p *Probe) Alive(ctx context.Context, _ runtime.Runtime, id string) (bool, error) {
	pids, err := p.procs(ctx, id)
	return len(pids) > 0, err
}

// Frozen reads the node's freezer cgroups: whether every process of the
// container but its first (boot, which freezes the sandbox from the
// container's cgroup through a child one) sits in a FROZEN one.
func (p *Probe) Frozen(ctx context.Context, _ runtime.Runtime, id string) (bool, error) {
	dir, err := p.containerCgroup(ctx, id, "freezer")
	if err != nil {
		return false, err
	}
	if dir == "" {
		return false, fmt.Errorf("sandbox %s has no freezer cgroup", id)
	}
	boot, err := p.init(ctx, id)
	if err != nil {
		return false, err
	}
	pids, err := p.procs(ctx, id)
	if err != nil {
		return false, err
	}
	seen := 0
	for _, pid := range pids {
		if pid == boot {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if err != nil {
			continue // gone meanwhile
		}
		cg := ""
		for _, line := range strings.Split(string(b), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "freezer") {
				cg = parts[2]
			}
		}
		state, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", cg, "freezer.state"))
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(string(state)) != "FROZEN" {
			return false, nil
		}
		seen++
	}
	return seen > 0, nil
}

// Kill SIGKILLs every process of the sandbox's container from the node.
func (p *Probe) Kill(ctx context.Context, _ runtime.Runtime, id string) error {
	pids, err := p.procs(ctx, id)
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return fmt.Errorf("sandbox %s has no process to kill", id)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return nil
}

// HostUID is the uid the sandbox's init (`hutch init`, below the pod's
// boot process) has on the node.
func (p *Probe) HostUID(ctx context.Context, _ runtime.Runtime, id string) (int, error) {
	pids, err := p.procs(ctx, id)
	if err != nil {
		return 0, err
	}
	pid := 0
	for _, q := range pids {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(q) + "/cmdline")
		if strings.HasPrefix(string(b), "/.hutch/hutch\x00init\x00") {
			pid = q
		}
	}
	if pid == 0 {
		return 0, fmt.Errorf("sandbox %s: no hutch init process on the node", id)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, errors.New("no Uid line in /proc/" + strconv.Itoa(pid) + "/status")
}
