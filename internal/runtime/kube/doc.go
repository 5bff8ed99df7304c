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
//	--kube-node-cgroups DIR     where the node's cgroup hierarchies are
//	                            mounted, for a control plane running on
//	                            the sandboxes' one node: it can then pause
//	                            them (empty: pause is refused)
//	--kube-kubelet-cgroup-root  the kubelet's --cgroup-root, read with
//	                            --kube-node-cgroups (empty: /)
//	--kube-overcommit N         the pods' CPU and memory requests are their
//	                            limits divided by N (1 or less: equal)
//
// The agent image needs nothing but /hutch, a CGO_ENABLED=0 build of
// cmd/hutch (scripts/setup.sh builds it so). The agent listens on TCP
// port 7311 of the pod (DefaultAgentPort).
//
// # Objects, and the RBAC they need
//
// In its namespace (and nowhere else) the driver needs these verbs:
//
//	pods                                create, get, list, watch, delete
//	persistentvolumeclaims              create, get, delete
//	networking.k8s.io networkpolicies   create, get, update, delete
//
// It reads pod status through get; list and watch are Watch's (below).
// The control plane must reach the pods' addresses (port 7311). Every object
// is named hutch-<key> (the sandbox id when it is a DNS label, else a
// cleaned prefix and a hash) and carries the labels
// app.kubernetes.io/managed-by=hutch and hutch.dev/sandbox=<key> and the
// annotation hutch.dev/id=<sandbox id>.
// The Spec carries no organisation, so no object names one. The driver
// keeps no state of its own: any replica finds every sandbox in the API.
//
// # A sandbox's pod
//
//   - init container hutch-install (the agent image) copies /hutch onto
//     the claim, beside the root (bin/hutch);
//   - init container hutch-seed (the user's image) copies the image's
//     whole root filesystem onto the claim (root/), once: a claim that
//     has it keeps what the sandbox wrote. Owners are shifted to the
//     sandbox's uid range. Mount points (/proc, /dev, /sys, the files the
//     kubelet binds) are left empty;
//   - container sandbox (the user's image, run as `hutch kube boot`)
//     binds the container's /proc, /dev, /sys, /etc/hosts, /etc/hostname,
//     /etc/resolv.conf and the binary (read-only, at /.hutch) into the
//     claim's root, moves that root over / and chroots into it, writes
//     the pids limit into its cgroup, binds the agent's port, drops
//     CAP_SYS_ADMIN from the bounding set and starts `hutch init` in a
//     new user namespace (root inside is a host uid of its own: 65536 ids
//     picked by a hash of the key, above 1048576) and cgroup namespace.
//     Before init runs, a seccomp filter is stacked on the runtime's
//     (new or joined namespaces, the mount API, BPF, perf events,
//     keyrings refused; clone3 answers ENOSYS) and the capabilities are
//     cut to the container's default set. Boot stays PID 1, passing
//     signals on and reaping.
//
// So the WHOLE root filesystem persists across stop and start (and a
// crash): /etc, /usr, /root, /tmp, everything. The image is read once,
// at the first boot; a later change of the image's tag does not reach an
// existing sandbox.
//
// The sandbox container is given CAP_SYS_ADMIN (for boot only) and the
// RuntimeDefault seccomp profile: the namespace needs a Pod Security
// level that allows it (privileged; baseline refuses SYS_ADMIN).
//
// Limits are the pod's: CPU and memory as the container's limits (their
// requests are the limits divided by Config.Overcommit), pids written by
// boot into the container's pids cgroup, DiskMB as the claim's size
// (enforced only where the storage class enforces sizes, so
// Capabilities.DiskLimit is false).
//
// # The agent
//
// The agent serves its usual HTTP protocol on TCP port 7311 of the pod,
// which any other pod can reach: every connection must start with the
// line "HUTCH-AGENT-TOKEN <token>" (agent/protocol.TokenLine), else the
// agent closes it unanswered. The token is random per pod, given to boot
// in the pod spec's environment (so whoever can read pods in the
// namespace can reach that pod's agent); init passes it to the agent only
// and removes it from its own environment, and boot, init and the agent
// are not dumpable, so no process of the sandbox can read it.
//
// # Lifecycle
//
// Create makes the claim, the NetworkPolicy and the pod and waits until
// the agent answers (a create cut short is removed first; a failed one
// removes what it made). Stop deletes the pod with the grace (at least a
// second: a zero grace would be a forced deletion that does not wait for
// the kubelet) and waits until the kubelet has removed it; the claim
// stays. Start recreates the pod on the claim. Delete removes pod,
// NetworkPolicy and claim (waiting for the claim to go). Recover reads
// the pod: no pod but a claim is stopped, a pod whose sandbox container
// ended is stopped with its exit status as the reason, a pod whose
// container's freezer is FROZEN is paused. Watch (runtime.Watcher) lists
// and watches the namespace's sandbox pods and reports each whose sandbox
// container ended while the pod was not being deleted (a stop deletes it
// first): its command done, the OOM killer, a kill from outside.
//
// # Pause and Stats: the node's cgroups
//
// Pause and Resume write the cgroup v1 freezer of the pod's sandbox
// container on the node (the pause container and the claim stay): the
// processes keep their memory, the pod stays Running in the API, the
// agent and any TCP connection to the sandbox stop answering until the
// resume (connections time out if the pause outlasts them). This needs
// the driver to see the node's cgroups (Config.NodeCgroups,
// --kube-node-cgroups; the tests set it, as the driver runs on the node).
// `hutch serve` in its own pod does not: there the driver declares no Pause (the API refuses
// pause), and a control plane that must pause would need a node-local
// helper (a DaemonSet writing the freezer) that this package does not
// have. Stats read the same cgroup files on the node, or the
// container's own through the agent's file API when the driver is away
// from the node.
//
// # Network policy
//
// Each sandbox has a NetworkPolicy selecting its pod: ingress only to the
// agent's port; egress everything but DenyCIDRs with internet access,
// only AllowCIDRs without. Whether it is enforced is the network plugin's
// business: a cluster without a policy controller (flannel alone, or the
// test cluster, which runs k3s with --disable-network-policy) creates the
// objects and ignores them, and its sandboxes reach everything. The
// driver is not a runtime.Networker: a pod has the cluster network's
// interface, not only loopback, and its policy changes only with Start.
package kube
