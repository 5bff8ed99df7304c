package kube_test

import (
	"archive/tar"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
func cluster(t *testing.T) *kubetest.Cluster {
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
		StopGrace:  2e9,
	}
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
		New:      func(t testing.TB, _ string) runtime.Runtime { return newDriver(t, config(c)) },
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
}
