package kubetest

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestRuntimeRunsPodSandbox checks the node's half of the cluster without
// k3s, as the kubelet would drive it through the CRI: containerd with the
// locally built pause image, a pod on the cluster's CNI bridge under the
// cluster's cgroup root, reachable from the host at its address, a
// container from an image imported from the project's base rootfs, an
// exec in it; then that Close leaves nothing behind.
func TestRuntimeRunsPodSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (containerd)")
	}
	for _, bin := range []string{"containerd", "ctr", cniBinDir + "/bridge"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("HUTCH_KUBE") == "1" {
				t.Fatal(err)
			}
			t.Skipf("%v (scripts/build-k3s.sh installs it)", err)
		}
	}
	if _, err := os.Stat(baseImage); err != nil {
		t.Skipf("%v (scripts/setup.sh builds it)", err)
	}
	c, err := newCluster(Config{Logf: t.Logf}, (*Cluster).startRuntime)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // when a check below stops the test
	const ref = "hutch.local/base:cri"
	if err := c.ImportRootfs(ref, baseImage, "/bin/sleep", "infinity"); err != nil {
		t.Fatal(err)
	}

	conn, err := grpc.NewClient("unix://"+c.ctrSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rs := cri.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	podConfig := &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: "probe", Namespace: "default", Uid: "probe-uid"},
		Linux:        &cri.LinuxPodSandboxConfig{CgroupParent: c.cgroupRoot + "/podprobe"},
		LogDirectory: c.Dir + "/pod-logs/probe",
	}
	pod, err := rs.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: podConfig})
	if err != nil {
		t.Fatalf("run pod sandbox: %v", err)
	}
	status, err := rs.PodSandboxStatus(ctx, &cri.PodSandboxStatusRequest{PodSandboxId: pod.PodSandboxId})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := netip.ParseAddr(status.Status.GetNetwork().GetIp())
	if err != nil || !netip.MustParsePrefix(c.PodSubnet).Contains(ip) {
		t.Fatalf("pod address %q is not in the cluster's bridge subnet %s", status.Status.GetNetwork().GetIp(), c.PodSubnet)
	}
	if out, err := exec.Command("busybox", "ping", "-c1", "-W5", ip.String()).CombinedOutput(); err != nil {
		t.Errorf("the host does not reach the pod at %s: %v: %s", ip, err, out)
	}

	ctr, err := rs.CreateContainer(ctx, &cri.CreateContainerRequest{
		PodSandboxId:  pod.PodSandboxId,
		SandboxConfig: podConfig,
		Config: &cri.ContainerConfig{
			Metadata: &cri.ContainerMetadata{Name: "main"},
			Image:    &cri.ImageSpec{Image: ref},
			LogPath:  "main.log",
			// The kubelet asks for such scores; containerd keeps them at
			// or above its own (restrict_oom_score_adj).
			Linux: &cri.LinuxContainerConfig{Resources: &cri.LinuxContainerResources{MemoryLimitInBytes: 64 << 20, OomScoreAdj: -998}},
		},
	})
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	if _, err := rs.StartContainer(ctx, &cri.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		t.Fatalf("start container: %v", err)
	}
	ex, err := rs.ExecSync(ctx, &cri.ExecSyncRequest{
		ContainerId: ctr.ContainerId, Timeout: 30,
		Cmd: []string{"sh", "-c", ". /etc/os-release; echo $ID; grep memory /proc/self/cgroup"},
	})
	if err != nil || ex.ExitCode != 0 {
		t.Fatalf("exec: %v (exit %d, stderr %q)", err, ex.GetExitCode(), ex.GetStderr())
	}
	lines := strings.Split(strings.TrimSpace(string(ex.Stdout)), "\n")
	if len(lines) != 2 || lines[0] != "debian" || !strings.Contains(lines[1], ":memory:"+c.cgroupRoot+"/podprobe/") {
		t.Errorf("exec printed %q, want the base image's id and a memory cgroup under %s/podprobe", ex.Stdout, c.cgroupRoot)
	}

	dir, bridge, root := c.Dir, c.Bridge, c.cgroupRoot
	if err := c.Close(); err != nil { // the pod still runs: Close must remove it
		t.Fatalf("close: %v", err)
	}
	assertGone(t, c, dir, bridge, root)
}

// TestStaleClusterIsSwept leaves a cluster as a dead test binary would (its
// containerd killed, a pod sandbox still running, its owner gone) and
// checks that the next cluster's sweep removes all of it.
func TestStaleClusterIsSwept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (containerd)")
	}
	for _, bin := range []string{"containerd", "ctr", cniBinDir + "/bridge"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("HUTCH_KUBE") == "1" {
				t.Fatal(err)
			}
			t.Skipf("%v (scripts/build-k3s.sh installs it)", err)
		}
	}
	parent := t.TempDir()
	c, err := newCluster(Config{Parent: parent, Logf: t.Logf}, (*Cluster).startRuntime)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // when a check below stops the test
	conn, err := grpc.NewClient("unix://"+c.ctrSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := cri.NewRuntimeServiceClient(conn).RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: &cri.PodSandboxConfig{
		Metadata: &cri.PodSandboxMetadata{Name: "stale", Namespace: "default", Uid: "stale-uid"},
		Linux:    &cri.LinuxPodSandboxConfig{CgroupParent: c.cgroupRoot + "/podstale"},
	}}); err != nil {
		t.Fatalf("run pod sandbox: %v", err)
	}
	// The owner dies: its containerd with it; the pod's shim and pause
	// process stay.
	c.containerd.stop(0)
	if err := os.WriteFile(c.Dir+"/"+ownerFile, []byte("1 0"), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(mountsUnder(c.Dir)) == 0 {
		t.Fatal("the stale cluster has no mounts: the test would prove nothing")
	}

	sweepStale(parent, t.Logf)
	c.closed = true // the sweep did it
	assertGone(t, c, c.Dir, c.Bridge, c.cgroupRoot)
}
