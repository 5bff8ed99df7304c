// Package kubetest starts a throwaway single-node Kubernetes (k3s, built by
// scripts/build-k3s.sh) for a test binary, and removes every trace of it
// afterwards: pods, containerd and its shims, mounts, cgroups, the bridge,
// iptables chains and the host sysctls the kubelet rewrites.
//
// The cluster is contained so that it can run beside `hutch serve` and the
// oci driver's tests: its own data directory, containerd, sockets and free
// ports; pods under their own cgroup root; pods on their own CNI bridge
// (no flannel, no kube-proxy, no network policy controller, no add-ons), so
// that k3s installs no iptables rules of its own. No registry is reachable
// here: images are imported into containerd (ImportRootfs) and pods use
// imagePullPolicy Never; the sandbox (pause) image is built locally from
// the host's static busybox.
package kubetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Pin is the k3s version scripts/build-k3s.sh builds (the only one the
// module proxy serves: the master pseudo-version, Kubernetes 1.33).
const Pin = "v1.33.0-rc1.0.20250430074337-dc03cb4b3faa"

// PauseImage is the sandbox image every pod's network namespace holds on to.
const PauseImage = "hutch.local/pause:1"

// Binary returns the cached k3s binary (HUTCH_K3S overrides it), or an
// error saying how to build it.
func Binary() (string, error) {
	path := os.Getenv("HUTCH_K3S")
	if path == "" {
		path = filepath.Join("/var/cache/hutch/k3s", Pin, "k3s")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("k3s binary %s: %w (build it with scripts/build-k3s.sh)", path, err)
	}
	return path, nil
}

// Start starts a cluster for t and removes it when t ends. Without a k3s
// binary the test is skipped, unless HUTCH_KUBE=1 says the cluster is
// required (CI), where it fails.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("HUTCH_KUBE") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("kubetest needs root (containerd, kubelet)")
	}
	c, err := New(Config{K3s: bin, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// errNotReady marks a cluster that started but did not become usable.
var errNotReady = errors.New("cluster not ready")

// CgroupRoot is the kubelet's cgroup root (its --cgroup-root), below
// which every pod's cgroups are in each hierarchy.
func (c *Cluster) CgroupRoot() string { return c.cgroupRoot }
