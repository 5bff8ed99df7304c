package kube_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/kube"
	"github.com/hutchdev/hutch/internal/runtime/kube/kubetest"
	"github.com/hutchdev/hutch/internal/runtime/runtimetest"
)

const (
	testImage  = "hutch.local/busybox:test"
	agentImage = "hutch.local/hutch-agent:test"
	namespace  = "hutch-test"
)

// cluster starts the test cluster with the suite's images imported (the
// busybox root filesystem and an agent image holding a static build of
// testdata/podinit as /hutch) and the sandboxes' namespace.
func cluster(t testing.TB) *kubetest.Cluster {
	t.Helper()
	c := kubetest.Start(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "hutch")
	build := exec.Command("go", "build", "-o", bin, "./testdata/podinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test binary: %v: %s", err, out)
	}
	layer := filepath.Join(dir, "agent.tar")
	if err := tarOf(layer, bin, "hutch"); err != nil {
		t.Fatal(err)
	}
	if err := c.ImportRootfs(agentImage, layer); err != nil {
		t.Fatal(err)
	}
	if err := c.ImportBusybox(testImage); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := c.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// tarOf writes a layer holding the file src as name (mode 0755).
func tarOf(path, src, name string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	return tw.Close()
}

func config(c *kubetest.Cluster) kube.Config {
	return kube.Config{
		Client:            c.Client,
		Namespace:         namespace,
		StorageClass:      kubetest.StorageClass,
		AgentImage:        agentImage,
		PullPolicy:        string(corev1.PullNever),
		NodeCgroups:       "/sys/fs/cgroup",
		KubeletCgroupRoot: c.CgroupRoot(),
		// The suite's sandboxes ask for more CPU than this machine has.
		Overcommit: 100,
		StopGrace:  2 * time.Second,
	}
}

// awayConfig is config without the node's cgroups.
func awayConfig(c *kubetest.Cluster) kube.Config {
	cfg := config(c)
	cfg.NodeCgroups = ""
	return cfg
}

func newDriver(t testing.TB, cfg kube.Config) *kube.Driver {
	t.Helper()
	d, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func harness(c *kubetest.Cluster) runtimetest.Harness {
	return runtimetest.Harness{
		// The driver keeps no state of its own: a restarted one finds the
		// sandboxes in the API server.
		// It runs away from the node, as a control plane in a pod does
		// (pause goes through the pod's boot); the probe checks the node.
		New:      func(t testing.TB, _ string) runtime.Runtime { return newDriver(t, awayConfig(c)) },
		StateDir: func(t testing.TB) string { return t.TempDir() },
		Image:    testImage,
		Exec: func(ctx context.Context, r runtime.Runtime, id string, argv ...string) (string, error) {
			out, err := r.(*kube.Driver).Exec(ctx, id, argv...)
			return string(out), err
		},
		// Each sandbox is three containers on one node of a 2-core
		// machine: the burst checks races, not capacity.
		ConcurrentCreates: 8,
	}
}

func TestSuite(t *testing.T) {
	c := cluster(t)
	probe := &kubetest.Probe{Cluster: c, Namespace: namespace, Container: "sandbox"}
	runtimetest.Run(t, harness(c), probe)
	t.Run("AgentRefusesOtherCallers", func(t *testing.T) { testAgentToken(t, c, probe) })
	t.Run("StatsAwayFromTheNode", func(t *testing.T) { testAgentStats(t, c, probe) })
	t.Run("WatchReportsKilledNotStopped", func(t *testing.T) { testWatch(t, c, probe) })
	t.Run("CreateWithoutTheImageFails", func(t *testing.T) { testMissingImage(t, c, probe) })
	t.Run("TwoTakesOfOnePreparedPod", func(t *testing.T) { testTakeRace(t, c, probe) })
	t.Run("DropRacingATake", func(t *testing.T) { testDropRacesTake(t, c, probe) })
	t.Run("TakenSandboxKeepsOwnersThroughArchive", func(t *testing.T) { testTakenArchive(t, c, probe) })
}

// testMissingImage checks that a create whose image the node cannot have
// fails naming why, instead of waiting for the pod, and leaves nothing.
func testMissingImage(t *testing.T, c *kubetest.Cluster, probe *kubetest.Probe) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := newDriver(t, config(c))
	sp := runtime.Spec{ID: "img" + strconv.FormatInt(time.Now().UnixNano(), 36), Image: "hutch.local/absent:1", CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
	err := d.Create(ctx, sp)
	if err == nil || !strings.Contains(err.Error(), "ErrImageNeverPull") || !strings.Contains(err.Error(), "hutch.local/absent:1") ||
		errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("create of an image the node lacks: %v (want the reason, not a wait cut short)", err)
	}
	if left, err := probe.Leftovers(ctx, d, sp.ID); err != nil || len(left) > 0 {
		t.Errorf("left behind: %v %v", left, err)
	}
}

// testWatch checks that Watch reports a sandbox killed from outside, and
// not one the driver stopped before.
func testWatch(t *testing.T, c *kubetest.Cluster, probe *kubetest.Probe) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := newDriver(t, config(c))
	var stopped, killed runtime.Spec
	for i, sp := range []*runtime.Spec{&stopped, &killed} {
		*sp = runtime.Spec{ID: "w" + strconv.Itoa(i) + strconv.FormatInt(time.Now().UnixNano(), 36), Image: testImage, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
		id := sp.ID
		t.Cleanup(func() {
			if err := d.Delete(context.Background(), id); err != nil {
				t.Error(err)
			}
		})
		if err := d.Create(ctx, *sp); err != nil {
			t.Fatal(err)
		}
	}
	exits := d.Watch(ctx)
	if err := d.Stop(ctx, stopped.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := probe.Kill(ctx, d, killed.ID); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case e := <-exits:
			if e.ID == stopped.ID {
				t.Fatalf("Watch reported %s, which the driver stopped", e.ID)
			}
			if e.ID == killed.ID {
				return
			}
		case <-ctx.Done():
			t.Fatalf("Watch did not report %s, killed from outside", killed.ID)
		}
	}
}

// testAgentStats checks Stats of a driver that does not see the node's
// cgroups (the control plane in its own pod): read through the agent,
// they are the container's cgroup's, as the node has them.
func testAgentStats(t *testing.T, c *kubetest.Cluster, probe *kubetest.Probe) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	away, onNode := newDriver(t, awayConfig(c)), newDriver(t, config(c))
	if !away.Capabilities().Pause {
		t.Error("a driver away from the node does not declare Pause")
	}
	sp := runtime.Spec{ID: "st" + strconv.FormatInt(time.Now().UnixNano(), 36), Image: testImage, CPU: 0.5, MemoryMB: 32, DiskMB: 64, Pids: 40}
	t.Cleanup(func() {
		if err := away.Delete(context.Background(), sp.ID); err != nil {
			t.Error(err)
		}
		if left, err := probe.Leftovers(context.Background(), away, sp.ID); err != nil || len(left) > 0 {
			t.Errorf("left behind: %v %v", left, err)
		}
	})
	if err := away.Create(ctx, sp); err != nil {
		t.Fatal(err)
	}
	_, _ = away.Exec(ctx, sp.ID, "sh", "-c", "head -c 256m /dev/zero | tail")
	got, err := away.Stats(ctx, sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := onNode.Stats(ctx, sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.MemoryLimit != 32<<20 || got.OOMKills < 1 || got.OOMKills != want.OOMKills || got.Pids < 1 || got.CPUUsage <= 0 || got.MemoryBytes <= 0 {
		t.Errorf("stats through the agent %+v; on the node %+v", got, want)
	}
}

// testAgentToken checks that the agent, listening on the pod's address,
// serves only connections that name the pod's token first (another pod,
// or the host without it, gets the connection closed unanswered), and
// that no process in the sandbox can read that token.
func testAgentToken(t *testing.T, c *kubetest.Cluster, probe *kubetest.Probe) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := newDriver(t, config(c))
	sp := runtime.Spec{ID: "tok" + strconv.FormatInt(time.Now().UnixNano(), 36), Image: testImage, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
	t.Cleanup(func() {
		if err := d.Delete(context.Background(), sp.ID); err != nil {
			t.Error(err)
		}
		if left, err := probe.Leftovers(context.Background(), d, sp.ID); err != nil || len(left) > 0 {
			t.Errorf("left behind: %v %v", left, err)
		}
	})
	if err := d.Create(ctx, sp); err != nil {
		t.Fatal(err)
	}
	pod, err := c.Client.CoreV1().Pods(namespace).Get(ctx, "hutch-"+sp.ID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == protocol.TokenEnv {
			token = e.Value
		}
	}
	if len(token) < 32 {
		t.Fatalf("pod's agent token %q", token)
	}
	addr := net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(kube.DefaultAgentPort))
	healthz := "GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n"
	for name, first := range map[string]string{
		"no token":    healthz,
		"wrong token": string(protocol.TokenLine(strings.Repeat("0", len(token)))) + healthz,
	} {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: dial %s: %v", name, addr, err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		_, _ = conn.Write([]byte(first))
		answer, _ := io.ReadAll(conn)
		conn.Close()
		if len(answer) > 0 {
			t.Errorf("%s: the agent answered %q", name, answer)
		}
	}
	out, err := d.Exec(ctx, sp.ID, "sh", "-c", "env; for f in /proc/[0-9]*/environ; do cat $f 2>/dev/null; done")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Contains(string(out), token) || strings.Contains(string(out), protocol.TokenEnv) {
		t.Errorf("a process in the sandbox reads the agent's token:\n%s", out)
	}
}
