package config

import (
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestKubeFlags(t *testing.T) {
	cfg, err := LoadServe([]string{"--data-dir", "/data", "--runtime", "kube",
		"--kube-kubeconfig", "/etc/k.yaml", "--kube-storage-class", "fast", "--kube-agent-image", "reg/hutch:1",
		"--kube-node-cgroups", "/sys/fs/cgroup", "--kube-kubelet-cgroup-root", "/k3s", "--kube-overcommit", "4",
		"--kube-protected-cidrs", "10.42.0.0/16, 10.43.0.1/16", "--kube-images", "python=reg/py:3, gpu=reg/cuda:12"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	images := DefaultKubeImages()
	images["python"], images["gpu"] = "reg/py:3", "reg/cuda:12"
	want := Kube{Kubeconfig: "/etc/k.yaml", Namespace: defaultKubeNamespace, StorageClass: "fast", AgentImage: "reg/hutch:1",
		NodeCgroups: "/sys/fs/cgroup", KubeletCgroupRoot: "/k3s", Overcommit: 4, ProtectedCIDRs: []string{"10.42.0.0/16", "10.43.0.0/16"},
		Images: images}
	if cfg.Runtime != RuntimeKube || !reflect.DeepEqual(cfg.Kube, want) {
		t.Fatalf("runtime %q, kube %+v; want kube, %+v", cfg.Runtime, cfg.Kube, want)
	}
	cfg, err = LoadServe([]string{"--data-dir", "/data"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kube.Namespace != defaultKubeNamespace || cfg.Kube.AgentImage != defaultKubeAgentImage || cfg.Kube.Kubeconfig != "" ||
		!reflect.DeepEqual(cfg.Kube.Images, DefaultKubeImages()) {
		t.Fatalf("defaults: %+v", cfg.Kube)
	}
	// The API refuses an allowCIDRs entry in a protected range (400).
	cfg, err = LoadServe([]string{"--data-dir", "/data", "--runtime", "kube", "--kube-protected-cidrs", "10.42.0.0/16"}, io.Discard)
	if err != nil || len(cfg.Sandbox.ProtectedCIDRs) != 1 || cfg.Sandbox.ProtectedCIDRs[0].String() != "10.42.0.0/16" {
		t.Fatalf("sandbox protected ranges %v, %v", cfg.Sandbox.ProtectedCIDRs, err)
	}
	if _, err := LoadServe([]string{"--data-dir", "/data", "--runtime", "kube", "--kube-protected-cidrs", "10.42.0.0"}, io.Discard); err == nil || !strings.Contains(err.Error(), "kube-protected-cidrs") {
		t.Fatalf("a protected range that is no CIDR: %v", err)
	}
	for _, bad := range []string{"python", "=reg/py", "python=", "python=reg py"} {
		if _, err := LoadServe([]string{"--data-dir", "/data", "--runtime", "kube", "--kube-images", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "kube-images") {
			t.Fatalf("--kube-images %q: %v", bad, err)
		}
	}
}
