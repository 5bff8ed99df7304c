// Package runtime is the boundary between the lifecycle and whatever really
// runs sandboxes (OCI containers first; microVMs and Kubernetes pods later).
// Every driver passes the shared suite in runtime/runtimetest.
package runtime

import (
	"context"
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
	// processes run. A failed Create leaves nothing behind.
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

// Capabilities declares optional features up front, so that the API can
// refuse an action instead of failing half-way.
type Capabilities struct {
	Pause     bool // freeze in memory
	Archive   bool // filesystem can be packed away while stopped
	Network   bool // per-sandbox network namespace with policies
	DiskLimit bool
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
}
