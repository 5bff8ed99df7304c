package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/internal/ocilayout"
	"github.com/hutchdev/hutch/internal/runtime/kube/kubetest"
)

// kubeEnv is a throwaway k3s cluster ready for hutch serve --runtime
// kube: the agent image holds this run's hutch binary, the sandboxes'
// busybox image is on the node (no registry is reachable here), and the
// sandboxes' namespace exists.
type kubeEnv struct {
	c     *kubetest.Cluster
	ns    string
	agent string // the agent image's reference
	image string // the sandboxes' image
}

func startKube(t *testing.T) *kubeEnv {
	t.Helper()
	k := &kubeEnv{c: kubetest.Start(t), ns: "hutch-e2e", agent: "hutch.local/hutch-agent:e2e", image: "hutch.local/busybox:e2e"}
	bin, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	if err := ocilayout.WriteRootfs(&layer, []ocilayout.Entry{{Name: "hutch", Mode: 0o755, Data: bin}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.tar")
	if err := os.WriteFile(path, layer.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := k.c.ImportRootfs(k.agent, path); err != nil {
		t.Fatal(err)
	}
	if err := k.c.ImportBusybox(k.image); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: k.ns}}
	if _, err := k.c.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return k
}

// flags are hutch serve's flags for a replica on this cluster: it runs on
// the cluster's one node, so it pauses through the node's cgroups, and
// the sandboxes' requests are overcommitted (twenty of them ask for more
// than this machine's two cores).
func (k *kubeEnv) flags() []string {
	return []string{"--runtime", "kube", "--kube-kubeconfig", k.c.Kubeconfig, "--kube-namespace", k.ns,
		"--kube-storage-class", kubetest.StorageClass, "--kube-agent-image", k.agent,
		"--kube-node-cgroups", "/sys/fs/cgroup", "--kube-kubelet-cgroup-root", k.c.CgroupRoot(), "--kube-overcommit", "100"}
}

// leftovers lists the pods and claims still in the sandboxes' namespace.
func (k *kubeEnv) leftovers(ctx context.Context) ([]string, error) {
	var out []string
	pods, err := k.c.Client.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		out = append(out, "pod/"+p.Name)
	}
	claims, err := k.c.Client.CoreV1().PersistentVolumeClaims(k.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, c := range claims.Items {
		out = append(out, "pvc/"+c.Name)
	}
	return out, nil
}

// waitNoLeftovers waits until the namespace holds no pod or claim.
func (k *kubeEnv) waitNoLeftovers(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		left, err := k.leftovers(context.Background())
		if err == nil && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left in %s: %v (%v)", k.ns, left, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
