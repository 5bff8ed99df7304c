package sandbox

import (
	"context"
	"slices"
	"time"
)

// AutomationStore is what the reconciler asks of persistence. Each lookup
// returns only due work, selected in the database through an index, so that
// a tick costs little when nothing is due however many sandboxes exist.
//
// The lookups hold no lifecycle rule of their own: which states count and
// which settings turn a timer on come in the query, from the rules the
// reconciler also re-checks under the lock (timers.go), so that a second
// backend cannot drift from the first. An empty States selects nothing.
type AutomationStore interface {
	// ListExpired returns up to q.Limit sandboxes in one of q.States whose
	// ExpiresAt is at or before q.Now, soonest first.
	ListExpired(ctx context.Context, q ExpiryQuery) ([]*Sandbox, error)
	// ListTimerOn returns up to limit sandboxes on which t runs (t.On),
	// due or not, the one whose timer started first first: the set whose
	// CPU use auto-stop samples, since CPU use counts as activity.
	ListTimerOn(ctx context.Context, t Timer, limit int) ([]*Sandbox, error)
	// ListTimerDue returns up to q.Limit sandboxes on which q.Timer runs
	// and has run out at q.Now (q.Timer.Due), the one whose timer started
	// first first. Backends compare to the millisecond at least; the
	// reconciler re-checks each one exactly.
	ListTimerDue(ctx context.Context, q TimerQuery) ([]*Sandbox, error)
	// ListPauseReleaseDue returns up to q.Limit sandboxes in one of
	// q.States paused in memory whose Pause.ReleaseAt is at or before
	// q.Now, soonest first (the tiered pause).
	ListPauseReleaseDue(ctx context.Context, q ExpiryQuery) ([]*Sandbox, error)
	// ListStale returns up to q.Limit sandboxes in one of q.States whose
	// UpdatedAt is before q.Before, oldest first.
	ListStale(ctx context.Context, q StaleQuery) ([]*Sandbox, error)
	// AppendEvent adds ev to its sandbox's log without changing the
	// sandbox: progress of long work. A missing sandbox is
	// errdefs.ErrNotFound.
	AppendEvent(ctx context.Context, ev Event) error
	// GetOrgSettings returns an organisation's defaults; one never set has
	// every field nil.
	GetOrgSettings(ctx context.Context, orgID string) (*OrgSettings, error)
	// PutOrgSettings replaces an organisation's defaults.
	PutOrgSettings(ctx context.Context, s *OrgSettings) error
}

// ExpiryQuery selects the sandboxes an expiry deletes.
type ExpiryQuery struct {
	States []State // the states in which an expiry applies
	Now    time.Time
	Limit  int
}

// StaleQuery selects sandboxes left in a state too long.
type StaleQuery struct {
	States []State // the transitional states
	Before time.Time
	Limit  int
}

// TimerQuery selects the sandboxes whose Timer has run out at Now, each
// interval minute lasting Minute.
type TimerQuery struct {
	Timer  Timer
	Now    time.Time
	Minute time.Duration
	Limit  int
}

// TimerKind names one of a sandbox's interval timers: the setting that
// holds its length in interval minutes and the time it counts from.
type TimerKind string

// The interval timers.
const (
	TimerAutoStop    TimerKind = "auto-stop"    // AutoStopMinutes from LastActivityAt
	TimerAutoPause   TimerKind = "auto-pause"   // AutoPauseMinutes from LastActivityAt
	TimerAutoArchive TimerKind = "auto-archive" // AutoArchiveMinutes from UpdatedAt
	TimerAutoDelete  TimerKind = "auto-delete"  // AutoDeleteMinutes from UpdatedAt
)

// Minutes returns sb's setting for k.
func (k TimerKind) Minutes(sb *Sandbox) int {
	switch k {
	case TimerAutoStop:
		return sb.AutoStopMinutes
	case TimerAutoPause:
		return sb.AutoPauseMinutes
	case TimerAutoArchive:
		return sb.AutoArchiveMinutes
	case TimerAutoDelete:
		return sb.AutoDeleteMinutes
	}
	return 0
}

// Since returns the time k counts from on sb.
func (k TimerKind) Since(sb *Sandbox) time.Time {
	if k == TimerAutoStop || k == TimerAutoPause {
		return sb.LastActivityAt
	}
	return sb.UpdatedAt
}

// Timer is one timer rule of the reconciler: which timer, the states in
// which it counts, and the least setting that turns it on (a setting
// below it means never).
type Timer struct {
	Kind       TimerKind
	States     []State
	MinMinutes int
}

// On reports whether t runs on sb: sb is in one of t's states with a
// setting of at least t.MinMinutes.
func (t Timer) On(sb *Sandbox) bool {
	return slices.Contains(t.States, sb.State) && t.Kind.Minutes(sb) >= t.MinMinutes
}

// Due reports whether t runs on sb and has run out at now, each interval
// minute lasting minute.
func (t Timer) Due(sb *Sandbox, now time.Time, minute time.Duration) bool {
	if !t.On(sb) {
		return false
	}
	return !now.Before(t.Kind.Since(sb).Add(time.Duration(t.Kind.Minutes(sb)) * minute))
}

// OrgSettings are one organisation's defaults for the sandboxes it
// creates; a nil field keeps the server's default.
type OrgSettings struct {
	OrganizationID     string
	TimeoutSeconds     *int64
	AutoStopMinutes    *int
	AutoPauseMinutes   *int
	AutoArchiveMinutes *int
	AutoDeleteMinutes  *int
	// PauseMemory is the default of the organisation's pauses.
	PauseMemory *PauseMemory
	// PauseReleaseAfterSeconds is the tiered pause's delay (0: never).
	PauseReleaseAfterSeconds *int64
	// DefaultRuntime is the runtime of the organisation's creates that
	// name none ("oci", "gvisor"); nil takes the server's default.
	DefaultRuntime *string
	// UsePools false makes every create of the organisation boot cold,
	// as if it asked "pool": false; nil (or true) lets warm pools serve
	// them.
	UsePools  *bool
	UpdatedAt time.Time
}
