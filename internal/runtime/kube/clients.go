package kube

import (
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	typednetworkingv1 "k8s.io/client-go/kubernetes/typed/networking/v1"
)

func (d *Driver) pods() typedcorev1.PodInterface {
	return d.cfg.Client.CoreV1().Pods(d.cfg.Namespace)
}

func (d *Driver) claims() typedcorev1.PersistentVolumeClaimInterface {
	return d.cfg.Client.CoreV1().PersistentVolumeClaims(d.cfg.Namespace)
}

func (d *Driver) policies() typednetworkingv1.NetworkPolicyInterface {
	return d.cfg.Client.NetworkingV1().NetworkPolicies(d.cfg.Namespace)
}
