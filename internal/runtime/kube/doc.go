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
//	                            the sandboxes' one node: Stats read them
//	                            there (empty: asked of the pod's boot)
//	--kube-kubelet-cgroup-root  the kubelet's --cgroup-root, read with
//	                            --kube-node-cgroups (empty: /)
//	--kube-overcommit N         the pods' CPU and memory requests are their
//	                            limits divided by N (1 or less: equal)
//	--kube-protected-cidrs LIST ranges no sandbox reaches whatever its
//	                            policy: the cluster's pod and service
//	                            ranges, the nodes (link-local always is)
//	--kube-images LIST          name=reference pairs: the image a sandbox
//	                            asking for name runs (over the defaults for
//	                            base, python and node, from Docker Hub)
//
// The agent image needs nothing but /hutch, a CGO_ENABLED=0 build of
// cmd/hutch (scripts/setup.sh builds it so). The agent listens on TCP
// port 7311 of the pod (DefaultAgentPort); the pod's boot answers pause
// and resume on port 7312 (DefaultControlPort).
//
// # Objects, and the RBAC they need
//
// In its namespace (and nowhere else) the driver needs these verbs:
//
//	pods                                create, get, list, watch, update, delete
//	persistentvolumeclaims              create, get, list, update, delete
//	networking.k8s.io networkpolicies   create, get, update, delete
//
// It finds a sandbox's pod and claim by listing its label, watches pods
// for Watch (below) and updates pods and claims to relabel them at a
// warm pool's take.
// The control plane must reach the pods' addresses (ports 7311 and 7312). Every object
// is made as hutch-<key> (the sandbox id when it is a DNS label, else a
// cleaned prefix and a hash) and carries the labels
// app.kubernetes.io/managed-by=hutch and hutch.dev/sandbox=<key> and the
// annotation hutch.dev/id=<sandbox id>; a claim also carries
// hutch.dev/uid-base, the host uid its files' root is owned by. A pod
// and claim taken from a warm pool keep their pool names (below).
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
//     the pids limit into its cgroup, binds the agent's port, makes the
//     child freezer cgroup the sandbox will run in and binds the control
//     port (below), drops
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
// The port proxy reaches a sandbox's servers through the same port
// (runtime.PortDialer): DialPort asks the agent for GET /tcp upgraded to
// a tunnel (agent/protocol.OpenTunnel), and the agent connects to the
// port on the pod's loopback, so a server listening on 127.0.0.1 only is
// reached and the NetworkPolicy's ingress rule needs no other port.
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
// boot reports the sandbox FROZEN is paused. Watch (runtime.Watcher) lists
// and watches the namespace's sandbox pods and reports each whose sandbox
// container ended while the pod was not being deleted (a stop deletes it
// first): its command done, the OOM killer, a kill from outside.
//
// # Archive
//
// A stopped sandbox's files leave the cluster through a files pod
// (runtime.Archiver, archive.go): the agent image's hutch run as
// `hutch agent --listen` on the agent's port behind a token of its own,
// as root with only the capabilities that keep owners and modes, the
// claim mounted. Export packs the claim's root through the agent's tar
// route; Discard deletes the claim and writes its size on the sandbox's
// NetworkPolicy (annotation hutch.dev/discarded-claim-size), which
// Recover reads to report the sandbox stopped rather than missing;
// Import makes a fresh claim of that size, unpacks the stream into it and
// writes the seed marker, so that the next boot keeps the files (a failed
// import removes its claim). The files pod has no hutch.dev/id, so Watch
// never reports it; Delete removes one a dead replica left. Where the
// packed files go is the server's archive store: on PostgreSQL, the
// database, which every replica reads.
//
// # Warm pools
//
// Prepared sandboxes are held pods (runtime.Pooler, pool.go): a claim and
// a pod under the pool id's key, labelled hutch.dev/pool=true with their
// PoolSpec annotated, seeded, scheduled and started, both ports bound,
// but with `hutch kube boot --held`, which waits on the control port
// (still holding CAP_SYS_ADMIN) and runs nothing of a sandbox: no
// network policy selects it. A pod's CPU and memory are its resources
// from its creation, and in-place resize cannot change its QoS class
// (nor, before Kubernetes 1.34, lower a memory limit), so a prepared pod
// serves only creates with the CPU and memory it was made with
// (Capabilities.PoolLimits; the lifecycle fills pools with the default
// resources). Take makes the user's network policy, relabels the pod
// (naming the resourceVersion it read, so that of two takes of one pod
// one fails) and the claim to the user's key and id, and sends the held
// boot the workload, the environment, the pids limit and the hostname
// (the pod's UTS namespace and /etc/hostname: the pod keeps its pool
// name and spec.hostname). What a user observes: the sandbox is the same
// as a created one, but its pod's and claim's names are the pool's, and
// /etc/hosts still names the pool's hostname. A take takes about as long
// as init and the agent take to start; a create that boots cold waits
// for the claim, the scheduler, the image's seed copy and the
// containers. Every replica sees every prepared pod; the lifecycle keeps
// each in one replica's pool by a lock across replicas.
//
// # Pause: the pod's boot
//
// Pause and Resume ask the pod's boot (PID 1, outside the sandbox's user
// namespace) on the control port, with the agent's token (a connection
// without it is closed unanswered): freeze, thaw or state, answered
// FROZEN or THAWED once the kernel has it. Before dropping CAP_SYS_ADMIN,
// boot mounts the container's freezer hierarchy (cgroup v1's freezer, or
// cgroup2 where v1 has none) at a private mount point, makes a child
// cgroup of its own container cgroup, opens its freezer.state
// (cgroup.freeze and cgroup.events on v2) and both cgroup.procs, and
// detaches the mount: no path leads to it afterwards. It starts init
// inside the child (moving itself in for the clone and back out), so
// init's cgroup namespace is rooted there and everything the sandbox
// runs is in it; boot stays in the parent, unfrozen, to answer. Nothing
// inside can thaw itself: the open files are boot's (not dumpable, host
// root), and the sandbox's /sys/fs/cgroup is the container's read-only
// mount, owned by the host's root. Boot thaws the sandbox before passing
// a termination signal on, so a paused pod's deletion (Stop, or kubectl)
// does not wait on frozen processes. A pod made before the control port
// existed (no --control-port in its boot command) is never reported
// paused and cannot be paused.
//
// What a user observes: the processes keep their memory, the pod stays
// Running in the API, the agent and any TCP connection to the sandbox
// stop answering until the resume (connections time out if the pause
// outlasts them). This works wherever the driver runs: the node's
// cgroups are not needed.
//
// # Stats
//
// Stats read the sandbox container's cgroup files on the node when the
// driver sees them (Config.NodeCgroups, --kube-node-cgroups), otherwise
// boot answers them on the control port (the container's cgroup as its
// read-only /sys/fs/cgroup shows it), also while the sandbox, agent
// included, is paused. The CPU time is the sandbox's child cgroup's
// (boot places the sandbox in a child of the cpuacct hierarchy too, or of
// the one unified hierarchy on v2), so a paused sandbox uses none while
// boot answers.
//
// # Network policy
//
// Each sandbox has a NetworkPolicy selecting its pod: ingress only to the
// agent's and the control ports; egress to the cluster's DNS pods, and to
// everything but DenyCIDRs and the protected ranges (link-local always,
// and Config.ProtectedCIDRs, --kube-protected-cidrs) with internet
// access, only AllowCIDRs less the protected ranges without (an entry
// inside one is refused). Whether it is enforced is the network plugin's
// business: a cluster without a policy controller (flannel alone, or the
// test cluster, which runs k3s with --disable-network-policy) creates the
// objects and ignores them, and its sandboxes reach everything. The
// driver is not a runtime.Networker: a pod has the cluster network's
// interface, not only loopback, and its policy changes only with Start.
package kube
