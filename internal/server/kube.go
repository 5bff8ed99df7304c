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
// when empty). The control plane runs away from the sandboxes' nodes, so
// the driver does not see their cgroups: it cannot pause (see
// internal/runtime/kube).
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
		StopGrace:    cfg.Sandbox.StopGrace,
	})
	if err != nil {
		return nil, err
	}
	log.Info("sandbox runtime ready", "runtime", d.Name(), "namespace", cfg.Kube.Namespace, "agentImage", cfg.Kube.AgentImage)
	return d, nil
}
