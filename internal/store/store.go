// Package store persists Hutch's state: sandboxes and their event log,
// organisations and API keys. The lifecycle and auth code depend only on the
// Store interface, so that the embedded SQLite backend (store/sqlite) can be
// swapped for PostgreSQL when several control-plane replicas share one
// database. Every backend passes the same suite in store/storetest.
package store

import (
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/webhook"
)

// Store is the whole persistence layer: what the sandbox lifecycle needs,
// what auth needs, and a Close that releases the database. It is one
// interface rather than two handles so that one value, opened once in main,
// serves both and is closed once on shutdown; and so that a write which
// records an announced event (sandbox.Event.Announced) can queue the
// webhook deliveries of that event in its own transaction.
//
// A backend holds no lifecycle rule: the due-work lookups filter by the
// states and settings the reconciler passes in, and storetest walks every
// state in sandbox.States.
type Store interface {
	sandbox.Store
	auth.Store
	webhook.Store
	// Close releases the database; the Store is unusable afterwards.
	Close() error
}
