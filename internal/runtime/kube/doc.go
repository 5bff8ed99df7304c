// Package kube is the Kubernetes runtime driver (`hutch serve --runtime
// kube`): every sandbox is a Pod in one namespace, its files on a
// PersistentVolumeClaim that outlives the pod, its agent reached at the
// pod's IP.
//
// # Flags of hutch serve
//
//	--runtime kube              choose this driver
//	--kube-kubeconfig PATH      kubeconfig file; empty uses the in-cluster
//	                            config (the service account of the pod
//	                            hutch serve runs in)
//	--kube-namespace NAME       namespace of the sandboxes' pods, claims
//	                            and network policies (default "hutch-sandboxes")
//	--kube-storage-class NAME   storage class of the sandboxes' claims;
//	                            empty uses the cluster's default class
//	--kube-agent-image REF      image holding the static hutch binary at
//	                            /hutch, copied into every pod by an init
//	                            container (default "ghcr.io/hutchdev/hutch-agent:latest")
//
// # Objects, and the RBAC they need
//
// In its namespace the driver creates, reads, lists, watches and deletes
// pods, persistentvolumeclaims and networking.k8s.io networkpolicies; it
// reads pods/status. Every object carries the labels
// app.kubernetes.io/managed-by=hutch and hutch.dev/sandbox=<id>.
package kube
