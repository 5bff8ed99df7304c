package kubetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/procscan"
	"github.com/vishvananda/netlink"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// proc is a started daemon in its own process group, reaped by a goroutine.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group and SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// Close deletes the pods (so that the kubelet tears down their containers
// and CNI networks), stops k3s and containerd, and removes what is left:
// containers, shims, mounts, the cgroup root, the bridge, new iptables
// chains, the kubelet's sysctls and files outside the data directory, and
// the data directory. It goes on past errors and returns them all.
func (c *Cluster) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.stopVolumes != nil {
		c.stopVolumes()
	}
	if c.Client != nil && c.k3s != nil {
		keep(c.deletePods())
	}
	c.k3s.stop(20 * time.Second)
	if c.containerd != nil {
		keep(c.removeContainers())
	}
	c.containerd.stop(10 * time.Second)
	killShims(c.ctrSock)
	for _, m := range mountsUnder(c.Dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			keep(fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	keep(c.removeCgroupRoot())
	if l, err := netlink.LinkByName(c.Bridge); err == nil {
		keep(netlink.LinkDel(l))
	}
	keep(removeNewChains(c.before.chains))
	keep(c.before.restoreSysctls())
	for _, p := range createdPaths {
		if !c.before.existing[p] {
			_ = os.Remove(p) // a directory only when empty: another cluster may still use it
		}
	}
	keep(os.RemoveAll(c.Dir))
	return errors.Join(errs...)
}

// deletePods deletes every pod at once and waits for them to be gone.
func (c *Cluster) deletePods() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case <-c.k3s.done:
		return nil // nothing answers; removeContainers does the work
	default:
	}
	pods := c.Client.CoreV1().Pods(metav1.NamespaceAll)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	zero := int64(0)
	for _, p := range list.Items {
		_ = c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
	for {
		list, err := pods.List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pods still there after a minute: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// removeContainers stops and removes the pod sandboxes through the CRI,
// as the kubelet would (which also runs the CNI plugins' DEL), then kills
// and removes whatever containerd still holds.
func (c *Cluster) removeContainers() error {
	select {
	case <-c.containerd.done:
		return nil
	default:
	}
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if conn, err := grpc.NewClient("unix://"+c.ctrSock, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		rs := cri.NewRuntimeServiceClient(conn)
		if list, err := rs.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{}); err == nil {
			for _, p := range list.Items {
				if _, err := rs.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
					errs = append(errs, fmt.Errorf("stop pod sandbox %s: %w", p.Id, err))
				}
				if _, err := rs.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
					errs = append(errs, fmt.Errorf("remove pod sandbox %s: %w", p.Id, err))
				}
			}
		}
		conn.Close()
	}
	// Tasks may end and vanish while this runs: what counts is that none
	// is left.
	for range 50 {
		tasks, _ := c.ctr("tasks", "ls", "-q")
		ctrs, _ := c.ctr("containers", "ls", "-q")
		if strings.TrimSpace(tasks) == "" && strings.TrimSpace(ctrs) == "" {
			return errors.Join(errs...)
		}
		for _, id := range strings.Fields(tasks) {
			_, _ = c.ctr("tasks", "kill", "-s", "SIGKILL", id)
			_, _ = c.ctr("tasks", "rm", "-f", id)
		}
		for _, id := range strings.Fields(ctrs) {
			_, _ = c.ctr("containers", "rm", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.Join(append(errs, errors.New("containerd still holds containers after a minute"))...)
}

// killShims kills runc shims still serving this containerd (a crash
// between a task's start and its removal leaves them).
func killShims(sock string) {
	shims, _ := procscan.Find(func(argv []string) bool {
		return strings.HasPrefix(filepath.Base(argv[0]), "containerd-shim") && shimFlags(argv)["-address"] == sock
	})
	for _, p := range shims {
		flags := shimFlags(p.Argv)
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
		// A killed shim leaves its socket where containerd 1.6 puts them
		// all, named by a hash of containerd's address, namespace and id.
		sum := sha256.Sum256([]byte(filepath.Join(sock, flags["-namespace"], flags["-id"])))
		_ = os.Remove(filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:])))
	}
}

// shimFlags maps a shim's flags to their values.
func shimFlags(argv []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i+1 < len(argv); i++ {
		if strings.HasPrefix(argv[i], "-") {
			flags[argv[i]] = argv[i+1]
		}
	}
	return flags
}
