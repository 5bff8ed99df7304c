package config

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
)

// RuntimeKube runs every sandbox as a pod of a Kubernetes cluster
// (internal/runtime/kube), instead of oci and gvisor on this machine.
const RuntimeKube = "kube"

// Kube is the kube runtime's settings (--kube-*), read when Runtime is
// RuntimeKube.
type Kube struct {
	// Kubeconfig is a kubeconfig file; empty uses the in-cluster
	// configuration (the service account of the pod hutch serve runs in).
	Kubeconfig   string
	Namespace    string // of the sandboxes' pods, claims and network policies
	StorageClass string // of the sandboxes' claims; empty: the cluster's default
	AgentImage   string // holds the static hutch binary at /hutch
	// NodeCgroups is where the node's cgroup hierarchies are mounted, for
	// a control plane running on the sandboxes' one node (it can then
	// pause them by their freezer); empty elsewhere.
	NodeCgroups string
	// KubeletCgroupRoot is the kubelet's --cgroup-root, read with
	// NodeCgroups ("/" when empty).
	KubeletCgroupRoot string
	// Overcommit divides the sandboxes' CPU and memory limits into the
	// pods' requests, what the scheduler reserves (1: requests = limits).
	Overcommit float64
	// ProtectedCIDRs are ranges no sandbox reaches whatever its policy
	// (the cluster's pod and service ranges, the nodes' addresses);
	// link-local is protected without being named.
	ProtectedCIDRs []string
	// Images maps the image names sandboxes ask for to references the
	// cluster's nodes pull (DefaultKubeImages, then --kube-images).
	Images map[string]string
}

// DefaultKubeImages are the references of the image names Hutch and its
// compat APIs use (the default image and the templates' base, python
// and node) on a cluster that reaches Docker Hub: public images with
// what those names promise (a shell; python3 with pip; node with npm).
// scripts/build-image.sh --sandbox-images writes Hutch's own, for a
// cluster without a registry (docs/kubernetes.md).
func DefaultKubeImages() map[string]string {
	return map[string]string{
		"base":   "docker.io/library/debian:bookworm-slim",
		"python": "docker.io/library/python:3.12-slim-bookworm",
		"node":   "docker.io/library/node:22-bookworm-slim",
	}
}

// Defaults of the kube runtime (kube.DefaultNamespace and
// kube.DefaultAgentImage, which config does not import).
const (
	defaultKubeNamespace  = "hutch-sandboxes"
	defaultKubeAgentImage = "ghcr.io/hutchdev/hutch-agent:latest"
)

func kubeFlags(fs *flag.FlagSet, c *Config) {
	k := &c.Kube
	if k.Namespace == "" {
		k.Namespace = defaultKubeNamespace
	}
	if k.AgentImage == "" {
		k.AgentImage = defaultKubeAgentImage
	}
	if k.Images == nil {
		k.Images = DefaultKubeImages()
	}
	fs.StringVar(&k.Kubeconfig, "kube-kubeconfig", k.Kubeconfig, "with --runtime kube: kubeconfig file (empty: the in-cluster configuration)")
	fs.StringVar(&k.Namespace, "kube-namespace", k.Namespace, "with --runtime kube: namespace of the sandboxes' pods, claims and network policies")
	fs.StringVar(&k.StorageClass, "kube-storage-class", k.StorageClass, "with --runtime kube: storage class of the sandboxes' claims (empty: the cluster's default)")
	fs.StringVar(&k.NodeCgroups, "kube-node-cgroups", k.NodeCgroups, "with --runtime kube: where the node's cgroups are mounted, when hutch serve runs on the sandboxes' one node (Stats read them there); empty: Stats are asked of the pod")
	fs.StringVar(&k.KubeletCgroupRoot, "kube-kubelet-cgroup-root", k.KubeletCgroupRoot, "with --runtime kube and --kube-node-cgroups: the kubelet's --cgroup-root (empty: /)")
	fs.Float64Var(&k.Overcommit, "kube-overcommit", k.Overcommit, "with --runtime kube: the pods' CPU and memory requests are their limits divided by this (1 or less: requests equal limits)")
	fs.Func("kube-protected-cidrs", "with --runtime kube: comma-separated ranges no sandbox reaches whatever its network policy (name the cluster's pod and service ranges and the nodes' addresses; link-local is always protected)", func(v string) error {
		k.ProtectedCIDRs = nil
		for _, c := range strings.Split(v, ",") {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return fmt.Errorf("%q is not a CIDR", c)
			}
			k.ProtectedCIDRs = append(k.ProtectedCIDRs, p.Masked().String())
		}
		return nil
	})
	fs.Func("kube-images", "with --runtime kube: comma-separated name=reference pairs, the image a sandbox asking for name runs (over the defaults base, python and node from Docker Hub)", func(v string) error {
		for _, pair := range strings.Split(v, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, ref, ok := strings.Cut(pair, "=")
			name, ref = strings.TrimSpace(name), strings.TrimSpace(ref)
			if !ok || name == "" || ref == "" || strings.ContainsAny(ref, " \t") {
				return fmt.Errorf("%q is not name=reference", pair)
			}
			k.Images[name] = ref
		}
		return nil
	})
	fs.StringVar(&k.AgentImage, "kube-agent-image", k.AgentImage, "with --runtime kube: image holding the static hutch binary at /hutch, copied into every sandbox's pod")
}
