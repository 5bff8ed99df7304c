// Package sandbox is the domain of Hutch: the Sandbox record, its states and
// the one transition table, and the lifecycle service that drives the store
// and the runtime. It knows nothing of HTTP or SQL.
package sandbox

import "time"

// Sandbox is the stored record of one sandbox.
type Sandbox struct {
	ID             string
	Name           string
	OrganizationID string
	Image          string
	Template       string
	// Runtime names the driver the sandbox runs on ("oci", "gvisor"),
	// chosen at create and kept for its life; empty in a record made
	// before there was a choice, which is "oci".
	Runtime         string
	Entrypoint      []string
	Env             map[string]string
	Metadata        map[string]string
	Resources       Resources
	Network         Network
	State           State
	DesiredState    State
	StateReason     string
	TimeoutSeconds  *int64
	ExpiresAt       *time.Time
	AutoStopMinutes int
	// AutoPauseMinutes pauses the sandbox after this many idle minutes,
	// with the memory mode a pause without one takes; 0 is off.
	AutoPauseMinutes   int
	AutoArchiveMinutes int
	AutoDeleteMinutes  int
	// AutoResume lets a request through the port proxy resume the
	// sandbox when it is paused, instead of answering 409.
	AutoResume bool
	// Pause is where a paused sandbox's memory is; nil in other states.
	Pause *PauseInfo
	// PauseReleaseAfterSeconds is how long the sandbox may stay paused
	// in memory before the reconciler moves it to disk (0: never); nil
	// takes the organisation's or the server's default.
	PauseReleaseAfterSeconds *int64
	CreatedAt                time.Time
	UpdatedAt                time.Time
	StartedAt                *time.Time
	LastActivityAt           time.Time
	// Version increases with every write; updates compare it so that two
	// writers never overwrite each other's transition.
	Version int64
}

// Resources are the limits a sandbox runs under.
type Resources struct {
	CPU      float64 // cores
	MemoryMB int64
	DiskMB   int64
	Pids     int64
}

// Network is a sandbox's network policy.
type Network struct {
	Internet   bool
	AllowCIDRs []string
	DenyCIDRs  []string
	// PublicPorts are served by the port proxy without an API key.
	PublicPorts []int
}

// Event is one entry in a sandbox's event log.
type Event struct {
	ID        int64
	SandboxID string
	Time      time.Time
	Type      string // "state" for transitions, otherwise a short kind
	From      State
	To        State
	Cause     string // user, expiry, auto-stop, reconcile, ...
	Message   string
}

// Event types and causes.
const (
	EventState = "state"

	CauseUser      = "user"
	CauseReconcile = "reconcile"
	CauseExpiry    = "expiry"
)
