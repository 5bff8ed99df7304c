package daytona

import (
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// states turns Hutch's states into Daytona's words.
var states = map[sandbox.State]string{
	sandbox.StateCreating:  "creating",
	sandbox.StateRunning:   "started",
	sandbox.StatePausing:   "pausing",
	sandbox.StatePaused:    "paused",
	sandbox.StateResuming:  "resuming",
	sandbox.StateStopping:  "stopping",
	sandbox.StateStopped:   "stopped",
	sandbox.StateStarting:  "starting",
	sandbox.StateArchiving: "archiving",
	sandbox.StateArchived:  "archived",
	sandbox.StateDeleting:  "destroying",
	sandbox.StateDeleted:   "destroyed",
	sandbox.StateError:     "error",
}

// vendorStates are Daytona's states that no Hutch sandbox is ever in
// (builds, snapshots, resizes, forks): a list filter may name them and
// matches nothing.
var vendorStates = []string{"restoring", "build_failed", "pending_build", "building_snapshot",
	"unknown", "pulling_snapshot", "resizing", "snapshotting", "forking"}

// stateOf reads one of Daytona's state words; ok is false for a word
// Daytona does not have, hutch is "" for one of vendorStates.
func stateOf(word string) (hutch sandbox.State, ok bool) {
	for h, w := range states {
		if w == word {
			return h, true
		}
	}
	for _, w := range vendorStates {
		if w == word {
			return "", true
		}
	}
	return "", false
}

// Labels of Daytona's that Hutch keeps as metadata: every label is
// metadata, and these name what Daytona shows beside it.
const (
	// runnerID, target and sandboxClass have no counterpart here: one
	// server is one runner of container sandboxes.
	runnerID     = "hutch"
	target       = "local"
	sandboxClass = "container"
	// user is who the toolbox runs commands as: the agent's own user.
	user = "root"
)

// gib is one GiB in the MB Hutch counts resources in.
const gib = 1024

// sandboxBody is Daytona's Sandbox: every field of the seed's example,
// with Daytona's state words and resources in GiB.
type sandboxBody struct {
	ID                  string            `json:"id"`
	OrganizationID      string            `json:"organizationId"`
	Name                string            `json:"name"`
	Snapshot            string            `json:"snapshot"`
	User                string            `json:"user"`
	Env                 map[string]string `json:"env"`
	Labels              map[string]string `json:"labels"`
	Public              bool              `json:"public"`
	NetworkBlockAll     bool              `json:"networkBlockAll"`
	NetworkAllowList    *string           `json:"networkAllowList,omitempty"`
	Target              string            `json:"target"`
	CPU                 float64           `json:"cpu"`
	GPU                 int               `json:"gpu"`
	Memory              float64           `json:"memory"`
	Disk                float64           `json:"disk"`
	State               string            `json:"state"`
	DesiredState        string            `json:"desiredState,omitempty"`
	ErrorReason         string            `json:"errorReason,omitempty"`
	Recoverable         bool              `json:"recoverable"`
	BackupState         string            `json:"backupState"`
	AutoStopInterval    int               `json:"autoStopInterval"`
	AutoPauseInterval   int               `json:"autoPauseInterval"`
	AutoArchiveInterval int               `json:"autoArchiveInterval"`
	AutoDeleteInterval  int               `json:"autoDeleteInterval"`
	AutoDestroyAt       *string           `json:"autoDestroyAt,omitempty"`
	Volumes             []any             `json:"volumes"`
	CreatedAt           string            `json:"createdAt"`
	UpdatedAt           string            `json:"updatedAt"`
	LastActivityAt      string            `json:"lastActivityAt"`
	RunnerID            string            `json:"runnerId"`
	SandboxClass        string            `json:"sandboxClass"`
	DaemonVersion       string            `json:"daemonVersion"`
	ToolboxProxyURL     string            `json:"toolboxProxyUrl"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// body is sb as Daytona shows it to r's client.
func (f *face) body(r *http.Request, sb *sandbox.Sandbox) sandboxBody {
	b := sandboxBody{
		ID: sb.ID, OrganizationID: sb.OrganizationID, Name: sb.Name, Snapshot: sb.Image, User: user,
		Env: sb.Env, Labels: sb.Metadata, NetworkBlockAll: !sb.Network.Internet,
		Target: target, CPU: sb.Resources.CPU,
		Memory: float64(sb.Resources.MemoryMB) / gib, Disk: float64(sb.Resources.DiskMB) / gib,
		State: states[sb.State], DesiredState: states[sb.DesiredState], BackupState: "None",
		AutoStopInterval: sb.AutoStopMinutes, AutoPauseInterval: sb.AutoPauseMinutes, AutoArchiveInterval: sb.AutoArchiveMinutes,
		AutoDeleteInterval: sb.AutoDeleteMinutes, Volumes: []any{},
		CreatedAt: stamp(sb.CreatedAt), UpdatedAt: stamp(sb.UpdatedAt), LastActivityAt: stamp(sb.LastActivityAt),
		RunnerID: runnerID, SandboxClass: sandboxClass, DaemonVersion: "hutch", ToolboxProxyURL: f.toolboxURL(r),
	}
	if b.Env == nil {
		b.Env = map[string]string{}
	}
	if b.Labels == nil {
		b.Labels = map[string]string{}
	}
	if len(sb.Network.AllowCIDRs) > 0 {
		s := strings.Join(sb.Network.AllowCIDRs, ",")
		b.NetworkAllowList = &s
	}
	if sb.State == sandbox.StateError {
		b.ErrorReason, b.Recoverable = sb.StateReason, true
	}
	if sb.ExpiresAt != nil {
		s := stamp(*sb.ExpiresAt)
		b.AutoDestroyAt = &s
	}
	return b
}
