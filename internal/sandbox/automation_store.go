package sandbox

import (
	"context"
	"time"
)

// AutomationStore is what the reconciler asks of persistence. Each lookup
// returns only due work, selected in the database through an index, so that
// a tick costs little when nothing is due however many sandboxes exist.
type AutomationStore interface {
	// ListExpired returns up to limit sandboxes, not deleting or deleted,
	// whose ExpiresAt is at or before now, soonest first.
	ListExpired(ctx context.Context, now time.Time, limit int) ([]*Sandbox, error)
	// ListAutoStop returns up to limit running sandboxes with an
	// AutoStopMinutes above zero: the set whose CPU use the reconciler
	// samples, since CPU use counts as activity.
	ListAutoStop(ctx context.Context, limit int) ([]*Sandbox, error)
	// ListStoppedDue returns up to limit sandboxes whose auto-delete (in
	// stopped or archived) or, when archive is true, auto-archive (in
	// stopped) is due at now, counting from UpdatedAt with each interval
	// minute lasting unit.
	ListStoppedDue(ctx context.Context, now time.Time, unit time.Duration, archive bool, limit int) ([]*Sandbox, error)
	// ListStale returns up to limit sandboxes in a transitional state
	// whose last update is before before.
	ListStale(ctx context.Context, before time.Time, limit int) ([]*Sandbox, error)
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

// OrgSettings are one organisation's defaults for the sandboxes it
// creates; a nil field keeps the server's default.
type OrgSettings struct {
	OrganizationID     string
	TimeoutSeconds     *int64
	AutoStopMinutes    *int
	AutoArchiveMinutes *int
	AutoDeleteMinutes  *int
	UpdatedAt          time.Time
}
