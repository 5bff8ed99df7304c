package config

import (
	"io"
	"testing"
)

func TestKubeFlags(t *testing.T) {
	cfg, err := LoadServe([]string{"--data-dir", "/data", "--runtime", "kube",
		"--kube-kubeconfig", "/etc/k.yaml", "--kube-storage-class", "fast", "--kube-agent-image", "reg/hutch:1",
		"--kube-node-cgroups", "/sys/fs/cgroup", "--kube-kubelet-cgroup-root", "/k3s", "--kube-overcommit", "4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Kube{Kubeconfig: "/etc/k.yaml", Namespace: defaultKubeNamespace, StorageClass: "fast", AgentImage: "reg/hutch:1",
		NodeCgroups: "/sys/fs/cgroup", KubeletCgroupRoot: "/k3s", Overcommit: 4}
	if cfg.Runtime != RuntimeKube || cfg.Kube != want {
		t.Fatalf("runtime %q, kube %+v; want kube, %+v", cfg.Runtime, cfg.Kube, want)
	}
	cfg, err = LoadServe([]string{"--data-dir", "/data"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kube.Namespace != defaultKubeNamespace || cfg.Kube.AgentImage != defaultKubeAgentImage || cfg.Kube.Kubeconfig != "" {
		t.Fatalf("defaults: %+v", cfg.Kube)
	}
}
