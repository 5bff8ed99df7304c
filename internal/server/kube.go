package server

import (
	"fmt"
	"log/slog"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/kube"
)

// newKube builds the kube driver (--runtime kube): every sandbox a pod
// of the cluster --kube-kubeconfig names (the in-cluster configuration
// when empty). Pause goes through each pod's boot, wherever the control
// plane runs (see internal/runtime/kube); one on the sandboxes' node may
// be told where their cgroups are (--kube-node-cgroups) to read Stats there.
func newKube(cfg config.Config, log *slog.Logger) (runtime.Runtime, error) {
	client, _, err := kube.Client(cfg.Kube.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("runtime kube: %w", err)
	}
	d, err := kube.New(kube.Config{
		Client:       client,
		Namespace:    cfg.Kube.Namespace,
		StorageClass: cfg.Kube.StorageClass,
		AgentImage:   cfg.Kube.AgentImage,
		Images:       cfg.Kube.Images,
		StopGrace:    cfg.Sandbox.StopGrace,
		// A control plane on the sandboxes' node (--kube-node-cgroups)
		// reads Stats there; elsewhere it asks the pods.
		NodeCgroups:       cfg.Kube.NodeCgroups,
		KubeletCgroupRoot: cfg.Kube.KubeletCgroupRoot,
		Overcommit:        cfg.Kube.Overcommit,
		ProtectedCIDRs:    cfg.Kube.ProtectedCIDRs,
	})
	if err != nil {
		return nil, err
	}
	log.Info("sandbox runtime ready", "runtime", d.Name(), "namespace", cfg.Kube.Namespace, "agentImage", cfg.Kube.AgentImage, "images", cfg.Kube.Images)
	return d, nil
}
