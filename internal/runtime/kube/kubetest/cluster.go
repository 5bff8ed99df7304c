package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config says which k3s to run and where.
type Config struct {
	K3s     string               // the k3s binary (Binary())
	Parent  string               // where the data directory is made; /var/tmp when empty
	Logf    func(string, ...any) // progress; nothing when nil
	Timeout time.Duration        // for the node to become Ready; 3 minutes when zero
	Env     []string             // extra environment for k3s (tests of this package)
	_       struct{}             // keyed fields only
}

// Cluster is a running single-node cluster.
type Cluster struct {
	Dir        string               // data directory, removed by Close
	Kubeconfig string               // admin kubeconfig
	Rest       *rest.Config         // admin client configuration
	Client     kubernetes.Interface // admin client
	NodeName   string               // the one node
	PodSubnet  string               // the pods' addresses (CNI bridge), reachable from the host
	Bridge     string               // the CNI bridge's name

	cfg         Config
	id          string
	cgroupRoot  string
	ctrSock     string
	ports       ports
	containerd  *proc
	k3s         *proc
	before      hostState
	stopVolumes context.CancelFunc
	closed      bool
}

type ports struct {
	https, apiserver, lb, kubelet, healthz, controller, scheduler, stream int
}

// New starts containerd and k3s and waits for the node to be Ready and the
// default service account to exist (pods are refused before). Close
// removes what it made, also after an error from New, whose message then
// ends with the daemons' last log lines.
func New(cfg Config) (*Cluster, error) {
	return newCluster(cfg, (*Cluster).start)
}

// newCluster makes the data directory and runs start in it.
func newCluster(cfg Config, start func(*Cluster) error) (*Cluster, error) {
	if cfg.Parent == "" {
		cfg.Parent = "/var/tmp"
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	sweepStale(cfg.Parent, cfg.Logf)
	dir, err := os.MkdirTemp(cfg.Parent, "hutch-k3s-")
	if err != nil {
		return nil, err
	}
	if err := writeOwner(dir); err != nil {
		os.Remove(dir)
		return nil, err
	}
	id := strings.ToLower(strings.TrimPrefix(filepath.Base(dir), "hutch-k3s-"))
	c := &Cluster{
		Dir:        dir,
		Kubeconfig: filepath.Join(dir, "kubeconfig.yaml"),
		NodeName:   "hutch-k3s-" + id,
		Bridge:     "hk3s" + id,
		cfg:        cfg,
		id:         id,
		cgroupRoot: "/hutch-k3s-" + id,
		ctrSock:    filepath.Join(dir, "containerd.sock"),
		before:     snapshotHost(),
	}
	if err := start(c); err != nil {
		err = fmt.Errorf("start k3s: %w%s%s", err, logTail(dir, "containerd.log"), logTail(dir, "k3s.log"))
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", cerr))
		}
		return nil, err
	}
	return c, nil
}

// logTail returns the end of a daemon's log for an error message (the
// data directory is removed with the failed cluster).
func logTail(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || len(b) == 0 {
		return ""
	}
	return fmt.Sprintf("\n--- last of %s:\n%s", name, b[max(0, len(b)-3000):])
}

// startRuntime starts containerd with the pause image: all but k3s.
func (c *Cluster) startRuntime() error {
	var err error
	if c.ports, err = freePorts(); err != nil {
		return err
	}
	if c.PodSubnet, err = freeSubnet(); err != nil {
		return err
	}
	if err := c.makeCgroupRoot(); err != nil {
		return err
	}
	if err := c.writeConfigs(); err != nil {
		return err
	}
	if err := c.startContainerd(); err != nil {
		return err
	}
	return c.importPause()
}

func (c *Cluster) start() error {
	t0 := time.Now()
	if err := c.startRuntime(); err != nil {
		return err
	}
	c.cfg.Logf("kubetest: containerd ready with the pause image in %v", time.Since(t0).Round(time.Millisecond))
	if err := c.startK3s(); err != nil {
		return err
	}
	if err := c.waitReady(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stopVolumes = cancel
	if err := c.provisionVolumes(ctx); err != nil {
		return fmt.Errorf("storage class: %w", err)
	}
	// The kubelet has rewritten a few host-wide sysctls (overcommit, panic
	// on oops) once at its start; the host's values come back now.
	c.before.restoreSysctls()
	c.cfg.Logf("kubetest: node %s Ready in %v", c.NodeName, time.Since(t0).Round(time.Millisecond))
	return nil
}

// k3sArgs keeps k3s to the bare control plane and kubelet: no flannel, no
// kube-proxy, no network policy controller (all three program iptables),
// no cloud controller, helm controller or packaged add-ons, and every
// listening port chosen free.
func (c *Cluster) k3sArgs() []string {
	sub := strings.Split(strings.TrimSuffix(c.PodSubnet, ".0/24"), ".")
	svc := fmt.Sprintf("10.43.%s.0/24", sub[2])
	p := c.ports
	return []string{
		"server",
		"--config", filepath.Join(c.Dir, "k3s-config.yaml"),
		"--data-dir", filepath.Join(c.Dir, "k3s"),
		"--write-kubeconfig", c.Kubeconfig,
		"--write-kubeconfig-mode", "0600",
		"--node-name", c.NodeName,
		"--https-listen-port", strconv.Itoa(p.https),
		"--apiserver-port", strconv.Itoa(p.apiserver),
		"--lb-server-port", strconv.Itoa(p.lb),
		"--kube-controller-manager-arg", "secure-port=" + strconv.Itoa(p.controller),
		"--kube-scheduler-arg", "secure-port=" + strconv.Itoa(p.scheduler),
		"--container-runtime-endpoint", "unix://" + c.ctrSock,
		"--pause-image", PauseImage,
		"--cluster-cidr", c.PodSubnet,
		"--service-cidr", svc,
		"--cluster-dns", strings.TrimSuffix(svc, "0/24") + "10",
		"--flannel-backend", "none",
		"--disable-network-policy",
		"--disable-kube-proxy",
		"--disable-cloud-controller",
		"--disable-helm-controller",
		"--disable", "traefik,servicelb,metrics-server,local-storage,coredns",
		"--egress-selector-mode", "disabled",
		// Each kubelet its own root: with the default /var/lib/kubelet, two
		// clusters on one machine (two test binaries) each took the other's
		// pod directories for orphans and removed them (a new pod's
		// etc-hosts, its emptyDirs) while its containers were starting.
		"--kubelet-arg", "root-dir=" + filepath.Join(c.Dir, "kubelet"),
		// Without kube-proxy k3s still applies kube-proxy's conntrack
		// defaults to the host's sysctls; zero leaves them alone.
		"--kube-proxy-arg", "conntrack-max-per-core=0",
		"--kube-proxy-arg", "conntrack-tcp-timeout-established=0s",
		"--kube-proxy-arg", "conntrack-tcp-timeout-close-wait=0s",
	}
}

func (c *Cluster) startK3s() error {
	cmd := exec.Command(c.cfg.K3s, c.k3sArgs()...)
	cmd.Dir = c.Dir
	cmd.Env = cleanEnv(c.cfg.Env)
	log, err := os.Create(filepath.Join(c.Dir, "k3s.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	c.k3s, err = startProc(cmd)
	return err
}

// waitReady waits for the kubeconfig, the node's Ready condition and the
// default service account.
func (c *Cluster) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: node %s not Ready after %v", errNotReady, c.NodeName, c.cfg.Timeout)
		case <-c.k3s.done:
			return fmt.Errorf("%w: k3s exited: %v", errNotReady, c.k3s.err)
		case <-tick.C:
		}
		if c.Client == nil {
			if _, err := os.Stat(c.Kubeconfig); err != nil {
				continue
			}
			rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
			if err != nil {
				continue
			}
			rc.QPS, rc.Burst = 50, 100
			cs, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return err
			}
			c.Rest, c.Client = rc, cs
		}
		node, err := c.Client.CoreV1().Nodes().Get(ctx, c.NodeName, metav1.GetOptions{})
		if err != nil || !nodeReady(node) {
			continue
		}
		if _, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			continue
		}
		return nil
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// cleanEnv is the test's environment without what would point k3s or
// containerd at another cluster, plus extra.
func cleanEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "K3S_") || strings.HasPrefix(name, "CONTAINERD_") ||
			name == "KUBECONFIG" || name == "NOTIFY_SOCKET" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
