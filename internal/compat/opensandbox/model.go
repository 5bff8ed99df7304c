package opensandbox

import (
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// stateWords are OpenSandbox's words for Hutch's states. Pending covers
// both ways a sandbox comes up (create, start); Stopping both ways it
// goes down (stop, delete). Stopped, Archiving and Archived have no
// OpenSandbox word (its sandboxes are never stopped, only deleted) and
// keep Hutch's, capitalised; the spec says clients must take new words.
// A deleted sandbox is not answered at all: the vendor's 404.
var stateWords = map[sandbox.State]string{
	sandbox.StateCreating:  "Pending",
	sandbox.StateStarting:  "Pending",
	sandbox.StateRunning:   "Running",
	sandbox.StatePausing:   "Pausing",
	sandbox.StatePaused:    "Paused",
	sandbox.StateResuming:  "Resuming",
	sandbox.StateStopping:  "Stopping",
	sandbox.StateDeleting:  "Stopping",
	sandbox.StateStopped:   "Stopped",
	sandbox.StateArchiving: "Archiving",
	sandbox.StateArchived:  "Archived",
	sandbox.StateDeleted:   "Terminated",
	sandbox.StateError:     "Failed",
}

// statesOf returns the Hutch states one OpenSandbox word stands for
// (case-insensitively), and whether the word is known at all.
func statesOf(word string) ([]sandbox.State, bool) {
	var out []sandbox.State
	known := false
	for _, st := range sandbox.States {
		if strings.EqualFold(stateWords[st], word) {
			known = true
			if st != sandbox.StateDeleted {
				out = append(out, st)
			}
		}
	}
	return out, known
}

// reasons turn the cause of the last transition into the short
// machine-readable reason of status.reason.
var reasons = map[string]string{
	sandbox.CauseUser:        "user_request",
	sandbox.CauseExpiry:      "ttl_expiry",
	sandbox.CauseReconcile:   "reconcile",
	sandbox.CauseProxy:       "auto_resume",
	sandbox.CauseAutoStop:    "auto_stop",
	sandbox.CauseAutoArchive: "auto_archive",
	sandbox.CauseAutoDelete:  "auto_delete",
}

type imageSpec struct {
	URI string `json:"uri"`
}

type sandboxStatus struct {
	State            string     `json:"state"`
	Reason           string     `json:"reason,omitempty"`
	Message          string     `json:"message,omitempty"`
	LastTransitionAt *time.Time `json:"lastTransitionAt,omitempty"`
}

// sandboxBody is the spec's Sandbox (GET, list items, metadata patch).
type sandboxBody struct {
	ID         string            `json:"id"`
	Image      *imageSpec        `json:"image,omitempty"`
	Status     sandboxStatus     `json:"status"`
	Metadata   map[string]string `json:"metadata"`
	Entrypoint []string          `json:"entrypoint"`
	ExpiresAt  *time.Time        `json:"expiresAt,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
}

// createBody is the spec's CreateSandboxResponse: no image, no updatedAt.
type createBody struct {
	ID         string            `json:"id"`
	Status     sandboxStatus     `json:"status"`
	Metadata   map[string]string `json:"metadata"`
	ExpiresAt  *time.Time        `json:"expiresAt,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
	Entrypoint []string          `json:"entrypoint"`
}

// statusOf is a sandbox's status; last is its last state event, when
// known (its time and cause make lastTransitionAt and reason).
func statusOf(sb *sandbox.Sandbox, last *sandbox.Event) sandboxStatus {
	st := sandboxStatus{State: stateWords[sb.State]}
	if st.State == "" {
		st.State = string(sb.State)
	}
	at := sb.UpdatedAt
	if last != nil {
		at = last.Time
		st.Reason = reasons[last.Cause]
		if st.Reason == "" && last.Cause != "" {
			st.Reason = strings.ReplaceAll(last.Cause, "-", "_")
		}
		st.Message = last.Message
	}
	if sb.State == sandbox.StateError {
		st.Reason, st.Message = "runtime_error", sb.StateReason
	}
	at = at.UTC()
	st.LastTransitionAt = &at
	return st
}

func bodyOf(sb *sandbox.Sandbox, last *sandbox.Event) sandboxBody {
	b := sandboxBody{
		ID:         sb.ID,
		Status:     statusOf(sb, last),
		Metadata:   sb.Metadata,
		Entrypoint: sb.Entrypoint,
		ExpiresAt:  sb.ExpiresAt,
		CreatedAt:  sb.CreatedAt.UTC(),
	}
	if sb.Image != "" {
		b.Image = &imageSpec{URI: sb.Image}
	}
	if b.Metadata == nil {
		b.Metadata = map[string]string{}
	}
	if b.Entrypoint == nil {
		b.Entrypoint = []string{}
	}
	return b
}
