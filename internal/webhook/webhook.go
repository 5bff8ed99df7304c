// Package webhook delivers an organisation's sandbox state changes to the
// URLs it registered: signed JSON, retried with exponential backoff, at
// least once. The deliveries live in the store, queued in the transaction
// that records each state change, so that neither a crash nor a restart
// loses one.
package webhook

import (
	"context"
	"time"
)

// Webhook is one registered receiver.
type Webhook struct {
	ID             string
	OrganizationID string
	URL            string
	// Secret signs every delivery; the API shows it once, at creation.
	Secret    string
	CreatedAt time.Time
}

// Delivery is one state change still to be sent to one webhook.
type Delivery struct {
	ID             int64
	WebhookID      string
	URL            string
	Secret         string
	EventID        int64
	OrganizationID string
	SandboxID      string
	SandboxName    string
	Time           time.Time
	From, To       string
	Cause          string
	Message        string
	Attempts       int
}

// Attempt is one try at sending a delivery, kept so that an admin can see
// what each webhook's receiver answered (GET /v1/webhooks/{id}/deliveries).
type Attempt struct {
	ID         int64
	WebhookID  string
	DeliveryID int64 // the X-Hutch-Delivery header: the same on every retry
	Event      string
	SandboxID  string
	From, To   string
	Attempt    int // 1 for the first try
	Time       time.Time
	// StatusCode is the receiver's HTTP status; 0 when it gave none (the
	// connection failed, timed out or was refused by the egress guard).
	StatusCode int
	Error      string // "" when delivered
	Latency    time.Duration
	Outcome    string // OutcomeDelivered, OutcomeRetrying or OutcomeFailed
}

// Outcomes of an attempt.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetrying  = "retrying" // failed; the delivery is tried again later
	OutcomeFailed    = "failed"   // failed, and the delivery is given up
)

// AttemptsKept is how many attempts the store keeps per webhook, newest
// first; older ones are dropped as new ones are recorded.
const AttemptsKept = 50

// Store persists webhooks and their deliveries.
type Store interface {
	CreateWebhook(ctx context.Context, w *Webhook) error
	// ListWebhooks returns an organisation's webhooks, oldest first.
	ListWebhooks(ctx context.Context, orgID string) ([]*Webhook, error)
	// DeleteWebhook removes a webhook of orgID and its pending deliveries;
	// unknown is errdefs.ErrNotFound.
	DeleteWebhook(ctx context.Context, orgID, id string) error
	// DueDeliveries returns up to limit pending deliveries whose next
	// attempt is at or before now, oldest first.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*Delivery, error)
	// ClaimDeliveries is DueDeliveries for the one who sends them: the
	// deliveries it returns are not due again, for any caller, until
	// now+lease (unless RetryDelivery says otherwise), so that two
	// dispatchers sharing a store (replicas) never send one delivery
	// each. A dispatcher that dies holding a claim leaves the delivery
	// due again once the lease ends: at least once.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Delivery, error)
	// FinishDelivery marks a delivery done: delivered, or given up.
	FinishDelivery(ctx context.Context, id int64, at time.Time, delivered bool, lastErr string) error
	// RetryDelivery records a failed attempt and when to try again.
	RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	// PurgeDeliveries removes deliveries done before before.
	PurgeDeliveries(ctx context.Context, before time.Time) (int, error)
	// RecordAttempt keeps a, and of its webhook's attempts only the
	// newest AttemptsKept.
	RecordAttempt(ctx context.Context, a *Attempt) error
	// ListAttempts returns the attempts of webhook id of orgID, newest
	// first; a webhook unknown to orgID is errdefs.ErrNotFound.
	ListAttempts(ctx context.Context, orgID, id string) ([]*Attempt, error)
}
