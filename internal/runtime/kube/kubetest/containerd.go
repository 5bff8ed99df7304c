package kubetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The CNI plugins from Debian's containernetworking-plugins.
const cniBinDir = "/usr/lib/cni"

// writeConfigs writes containerd's, the CNI network's, the kubelet's
// drop-in and k3s's (empty, so that no /etc/rancher/k3s/config.yaml on the
// host applies).
func (c *Cluster) writeConfigs() error {
	files := map[string]string{
		"containerd.toml":                            c.containerdConfig(),
		"cni/10-hutch.conflist":                      c.cniConfig(),
		"k3s/agent/etc/kubelet.conf.d/50-hutch.conf": c.kubeletConfig(),
		"k3s-config.yaml":                            "",
	}
	for name, text := range files {
		path := filepath.Join(c.Dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig is Debian's containerd 1.6 kept inside the data
// directory: its own root, state, sockets, network namespaces and runc
// state (only the shims' sockets go to /run/containerd/s, a fixed path),
// the runc shim with cgroupfs, the locally built pause image, and
// restrict_oom_score_adj (root here lacks CAP_SYS_RESOURCE, so raising a
// container's oom_score_adj below containerd's own would fail).
func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "%[7]d"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[10]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[8]q
    conf_dir = %[9]q
    max_conf_num = 1
`,
		filepath.Join(c.Dir, "containerd", "root"),
		filepath.Join(c.Dir, "containerd", "state"),
		c.ctrSock, c.ctrSock+".ttrpc",
		filepath.Join(c.Dir, "containerd", "opt"),
		PauseImage, c.ports.stream, cniBinDir,
		filepath.Join(c.Dir, "cni"), filepath.Join(c.Dir, "runc"))
}

// cniConfig is a bridge of the cluster's own with host-local addresses and
// no masquerade: the plugins then touch no iptables, and the pods are
// reached from the host at their addresses, as the control plane reaches
// a sandbox.
func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "hutch-k3s-%s",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "ipMasq": false,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %q}]],
      "routes": [{"dst": "0.0.0.0/0"}],
      "dataDir": %q
    }
  }]
}
`, c.id, c.Bridge, c.PodSubnet, filepath.Join(c.Dir, "cni-ipam"))
}

// kubeletConfig overrides k3s's kubelet defaults: free ports, pods under
// the cluster's own cgroup root and logs in the data directory, and no
// image garbage collection or disk eviction (imported images cannot be
// pulled again, and the host's disk is shared).
func (c *Cluster) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
port: %d
healthzPort: %d
cgroupRoot: %s
podLogsDir: %s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
`, c.ports.kubelet, c.ports.healthz, c.cgroupRoot, filepath.Join(c.Dir, "pod-logs"))
}

func (c *Cluster) startContainerd() error {
	cmd := exec.Command("containerd", "--config", filepath.Join(c.Dir, "containerd.toml"))
	cmd.Dir = c.Dir
	cmd.Env = cleanEnv(nil)
	log, err := os.Create(filepath.Join(c.Dir, "containerd.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if c.containerd, err = startProc(cmd); err != nil {
		return fmt.Errorf("containerd (apt-get install containerd, or scripts/build-k3s.sh): %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.ctr("version")
		switch {
		case err == nil:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("containerd did not answer: %w", err)
		}
		select {
		case <-c.containerd.done:
			return fmt.Errorf("containerd exited: %v", c.containerd.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ctr runs Debian's ctr against the cluster's containerd in the
// Kubernetes namespace.
func (c *Cluster) ctr(args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command("ctr", append([]string{"--address", c.ctrSock, "--namespace", "k8s.io"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
