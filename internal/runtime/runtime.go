// Package runtime is the boundary between the lifecycle and whatever really
// runs sandboxes (OCI containers first; microVMs and Kubernetes pods later).
// Every driver passes the shared suite in runtime/runtimetest.
package runtime

import (
	"context"
	"io"
	"net"
	"time"
)

// Runtime runs sandboxes. All methods are keyed by the sandbox ID and must be
// safe to call again after a failure or a server restart: Delete of a
// missing sandbox succeeds, Stop of a stopped one succeeds.
type Runtime interface {
	// Name identifies the driver ("oci/crun", "oci/runc", ...).
	Name() string
	Capabilities() Capabilities
	// Create prepares the sandbox's filesystem and boots it; on return its
	// processes run. A failed Create leaves nothing behind, and Create of
	// a sandbox whose create was cut short (a crash) starts over.
	Create(ctx context.Context, spec Spec) error
	// Start boots a stopped sandbox again on the filesystem it kept.
	Start(ctx context.Context, spec Spec) error
	// Pause freezes every process of the sandbox; memory is kept.
	Pause(ctx context.Context, id string) error
	// Resume thaws a paused sandbox.
	Resume(ctx context.Context, id string) error
	// Stop ends the sandbox's processes (SIGTERM, then SIGKILL after grace;
	// a grace of 0 kills at once) and frees their memory, keeping the
	// filesystem.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Delete removes everything the sandbox had: processes, mounts,
	// cgroups, namespaces and files.
	Delete(ctx context.Context, id string) error
	// Recover re-attaches to a sandbox after a restart of the server and
	// reports what it finds.
	Recover(ctx context.Context, id string) (Status, error)
	// Stats reports resource use.
	Stats(ctx context.Context, id string) (Stats, error)
}

// AgentDialer is implemented by drivers whose sandboxes run the Hutch
// agent (Capabilities.Agent): it connects to a sandbox's agent without any
// network, so that exec, files and terminals work with networking off.
type AgentDialer interface {
	DialAgent(ctx context.Context, id string) (net.Conn, error)
}

// Capabilities declares optional features up front, so that the API can
// refuse an action (and leave its routes out) instead of failing half-way.
// Each flag that names an interface is true exactly when the driver
// implements it; Check verifies that, and the As* helpers read both.
type Capabilities struct {
	Pause      bool // freeze in memory
	DiskLimit  bool // Spec.DiskMB is enforced
	Archive    bool // Archiver
	Network    bool // Networker
	Ports      bool // PortDialer
	Agent      bool // AgentDialer
	Checkpoint bool // Checkpointer
	Watch      bool // Watcher
	Pool       bool // Pooler
	// PoolLimits: a prepared sandbox's CPU and memory limits are fixed
	// when it is prepared (PoolSpec's), so that only a spec with the same
	// ones can take it (a pod's resources, for one); the pids limit is
	// still the take's.
	PoolLimits bool
}

// Spec is everything a driver needs to boot a sandbox.
type Spec struct {
	ID         string
	Image      string // OCI reference; the driver resolves it
	Entrypoint []string
	Env        map[string]string
	CPU        float64
	MemoryMB   int64
	DiskMB     int64
	Pids       int64
	Internet   bool
	AllowCIDRs []string
	DenyCIDRs  []string
}

// State is what a driver observes of a sandbox.
type State string

// Observed states.
const (
	StateRunning State = "running"
	StatePaused  State = "paused"
	StateStopped State = "stopped" // filesystem present, no processes
	StateMissing State = "missing" // nothing known of this sandbox
)

// Status is the result of Recover.
type Status struct {
	State State
	// Reason explains an unexpected state (exit code, OOM kill).
	Reason string
}

// Stats is a sandbox's resource use.
type Stats struct {
	CPUUsage    time.Duration // cumulative CPU time
	MemoryBytes int64
	MemoryLimit int64
	Pids        int64
	OOMKills    int64
	// DiskBytes is what is used of the sandbox's own disk (its writable
	// layer), DiskLimit that disk's size; zero where a driver has none.
	DiskBytes, DiskLimit int64
	// NetRxBytes and NetTxBytes are what the sandbox received and sent
	// through its network interface to the host (its loopback aside);
	// zero without one (no internet access).
	NetRxBytes, NetTxBytes int64
}

// Archiver is implemented by drivers whose Capabilities.Archive is true:
// a stopped sandbox's writable layer leaves the machine's working set as
// a tar stream and comes back from one, so that the lifecycle can keep it
// in an archive store meanwhile.
type Archiver interface {
	// Export writes the stopped sandbox's writable layer to w as a tar
	// stream (ownership, modes, xattrs and overlay whiteouts included).
	Export(ctx context.Context, id string, w io.Writer) error
	// Discard removes the stopped sandbox's working copy of that layer,
	// keeping what Import and Start need.
	Discard(ctx context.Context, id string) error
	// Import replaces the sandbox's writable layer with a stream Export
	// wrote; Start then boots on it.
	Import(ctx context.Context, id string, r io.Reader) error
}

// NetworkPolicy is what a sandbox may reach.
type NetworkPolicy struct {
	Internet   bool
	AllowCIDRs []string
	DenyCIDRs  []string
}

// Networker is implemented by drivers that give each sandbox a network
// namespace of its own whose reach they enforce (Capabilities.Network):
// without internet access it holds nothing but its loopback, and a
// running sandbox's policy can change.
type Networker interface {
	// SetNetwork applies p to a sandbox at once; a stopped sandbox keeps
	// it for its next start.
	SetNetwork(ctx context.Context, id string, p NetworkPolicy) error
}

// PortDialer is implemented by drivers through which the port proxy
// reaches a sandbox's servers (Capabilities.Ports).
type PortDialer interface {
	// DialPort connects to port on the sandbox's own loopback, which
	// works with or without internet access.
	DialPort(ctx context.Context, id string, port int) (net.Conn, error)
}
