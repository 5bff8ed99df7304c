package kubetest

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/procscan"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
)

// baseImage is the project's own Debian rootfs (scripts/build-base-images.sh).
const baseImage = "/var/cache/hutch/images/base.tar"

// TestClusterRunsImportedImage starts a cluster, runs a pod from an image
// imported from the project's base rootfs (imagePullPolicy Never: there is
// no registry), execs in it, and checks that Close leaves nothing behind.
func TestClusterRunsImportedImage(t *testing.T) {
	bin, err := Binary()
	if err != nil {
		if os.Getenv("HUTCH_KUBE") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if _, err := os.Stat(baseImage); err != nil {
		t.Skipf("%v (scripts/setup.sh builds it)", err)
	}
	t0 := time.Now()
	c, err := New(Config{K3s: bin, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // when a check below stops the test
	t.Logf("cluster up in %v", time.Since(t0).Round(time.Millisecond))

	const ref = "hutch.local/base:test"
	t1 := time.Now()
	if err := c.ImportRootfs(ref, baseImage, "/bin/sleep", "infinity"); err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %s in %v", baseImage, time.Since(t1).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	zero, no := int64(0), false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Labels: map[string]string{"hutch.dev/test": "kubetest"}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken:  &no,
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name:            "main",
				Image:           ref,
				ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
	class := StorageClass
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "probe-files"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")},
			},
		},
	}
	if _, err := c.Client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod.Spec.Volumes = []corev1.Volume{{Name: "files", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name},
	}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "files", MountPath: "/files"}}
	t2 := time.Now()
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := waitRunning(ctx, t, c, "probe")
	t.Logf("pod Running in %v at %s", time.Since(t2).Round(time.Millisecond), running.Status.PodIP)
	ip, err := netip.ParseAddr(running.Status.PodIP)
	if err != nil || !netip.MustParsePrefix(c.PodSubnet).Contains(ip) {
		t.Errorf("pod address %q is not in the cluster's bridge subnet %s", running.Status.PodIP, c.PodSubnet)
	}

	out := execIn(ctx, t, c, "probe", "sh", "-c", ". /etc/os-release; echo $ID $((6*7)); id -u; echo kept > /files/note")
	if out != "debian 42\n0\n" {
		t.Errorf("exec printed %q, want the base image's os-release id, 42 and uid 0", out)
	}
	pvc, err := c.Client.CoreV1().PersistentVolumeClaims("default").Get(ctx, claim.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(c.Dir, "volumes", pvc.Spec.VolumeName, "note")); string(b) != "kept\n" {
		t.Errorf("the claim's volume holds %q (%v), want what the pod wrote", b, err)
	}

	dir, bridge, root := c.Dir, c.Bridge, c.cgroupRoot
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	assertGone(t, c, dir, bridge, root)
}

func waitRunning(ctx context.Context, t *testing.T, c *Cluster, name string) *corev1.Pod {
	t.Helper()
	for {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			return p
		}
		select {
		case <-ctx.Done():
			if p != nil {
				t.Fatalf("pod %s not Running: %s %+v", name, p.Status.Phase, p.Status.ContainerStatuses)
			}
			t.Fatalf("pod %s: %v", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// execIn runs argv in the pod's container through the API server (the
// websocket protocol, SPDY when the server refuses it) and returns stdout.
func execIn(ctx context.Context, t *testing.T, c *Cluster, pod string, argv ...string) string {
	t.Helper()
	req := c.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: "main", Command: argv, Stdout: true, Stderr: true,
	}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(c.Rest, "GET", req.URL().String())
	if err != nil {
		t.Fatal(err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.Rest, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, httpstream.IsUpgradeFailure)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("exec %v: %v (stderr %q)", argv, err, stderr.String())
	}
	return stdout.String()
}

// assertGone checks that nothing of the cluster is left on the host.
func assertGone(t *testing.T, c *Cluster, dir, bridge, cgroupRoot string) {
	t.Helper()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data directory %s still there (%v)", dir, err)
	}
	if m := mountsUnder(dir); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if _, err := netlink.LinkByName(bridge); err == nil {
		t.Errorf("bridge %s still there", bridge)
	}
	mounts, _ := cgroupMounts()
	for _, m := range mounts {
		if _, err := os.Stat(filepath.Join(m, cgroupRoot)); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still there (%v)", filepath.Join(m, cgroupRoot), err)
		}
	}
	left, _ := procscan.Find(func(argv []string) bool {
		cmd := strings.Join(argv, " ")
		return strings.Contains(cmd, c.ctrSock) || strings.Contains(cmd, dir+"/")
	})
	for _, p := range left {
		t.Errorf("process left: %d %q", p.PID, strings.Join(p.Argv, " "))
	}
	for chain := range iptablesChains() {
		if !c.before.chains[chain] && strings.Contains(chain, "/KUBE-") {
			t.Errorf("iptables chain %s left", chain)
		}
	}
	for k, v := range c.before.sysctls {
		if b, _ := os.ReadFile("/proc/sys/" + k); strings.TrimSpace(string(b)) != v {
			t.Errorf("sysctl %s is %q, was %q", k, strings.TrimSpace(string(b)), v)
		}
	}
}
