package sandbox

import (
	"context"
	"time"
)

// Store is what the lifecycle needs from persistence. Implementations live
// under internal/store and all pass internal/store/storetest.
//
// Every write that records an event announced outside the process
// (Event.Announced) also queues that event's webhook deliveries, in the
// same transaction, when the backend keeps webhooks: the event and its
// deliveries commit together or not at all.
//
// StateDeleted is the one state a backend knows by name: a deleted record
// gives its name up, is left out of lists unless asked for, and is purged.
type Store interface {
	// CreateSandbox inserts sb and its first event. A name already used in
	// the organisation is errdefs.ErrAlreadyExists.
	CreateSandbox(ctx context.Context, sb *Sandbox, ev Event) error
	// GetSandbox finds a sandbox by ID, or by name when no ID matches,
	// within one organisation. Missing is errdefs.ErrNotFound.
	GetSandbox(ctx context.Context, orgID, idOrName string) (*Sandbox, error)
	// GetSandboxByID finds a sandbox in any organisation (for the
	// reconciler).
	GetSandboxByID(ctx context.Context, id string) (*Sandbox, error)
	// UpdateSandbox writes sb if its stored Version still equals
	// sb.Version, increments sb.Version and appends ev when ev.Type is not
	// empty. A stale version is errdefs.ErrConflict.
	UpdateSandbox(ctx context.Context, sb *Sandbox, ev Event) error
	// ListSandboxes filters and pages in the database, newest first.
	ListSandboxes(ctx context.Context, f ListFilter) ([]*Sandbox, int, error)
	// ListAllSandboxes returns every sandbox not yet purged, in any
	// organisation and state except deleted (for recovery and timers).
	ListAllSandboxes(ctx context.Context) ([]*Sandbox, error)
	// PurgeDeleted removes deleted sandboxes whose last update is before t.
	PurgeDeleted(ctx context.Context, before time.Time) (int, error)
	// TouchSandbox records activity without a version bump.
	TouchSandbox(ctx context.Context, id string, at time.Time) error
	// ListEvents returns a sandbox's events, oldest first.
	ListEvents(ctx context.Context, sandboxID string) ([]Event, error)
	AutomationStore
	QuotaStore
}

// ListFilter selects sandboxes for ListSandboxes.
type ListFilter struct {
	OrganizationID string
	States         []State           // OR; empty means every state but deleted
	Metadata       map[string]string // AND
	NamePrefix     string
	Page           int // 1-based
	PageSize       int
}

// Announced reports whether ev goes out to the organisation's webhooks:
// state changes do, progress notes do not. It is the one place that rule
// lives; backends call it rather than match event types in SQL.
func (ev Event) Announced() bool { return ev.Type == EventState }
