package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/webhook"
)

// CreateWebhook implements webhook.Store.
func (s *Store) CreateWebhook(ctx context.Context, w *webhook.Webhook) error {
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now()
	}
	w.CreatedAt = micro(w.CreatedAt)
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO webhooks (id, organization_id, url, secret, created_at)
			VALUES ($1, $2, $3, $4, $5)`, w.ID, w.OrganizationID, w.URL, w.Secret, w.CreatedAt)
		if c, ok := violation(err, codeUnique); ok && c == "webhooks_pkey" {
			return fmt.Errorf("webhook %s: %w", w.ID, errdefs.ErrAlreadyExists)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

// ListWebhooks implements webhook.Store.
func (s *Store) ListWebhooks(ctx context.Context, orgID string) ([]*webhook.Webhook, error) {
	out, err := query(ctx, s, func(row pgx.CollectableRow) (*webhook.Webhook, error) {
		var w webhook.Webhook
		err := row.Scan(&w.ID, &w.OrganizationID, &w.URL, &w.Secret, &w.CreatedAt)
		return &w, err
	}, `SELECT id, organization_id, url, secret, created_at FROM webhooks
		WHERE organization_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook implements webhook.Store; pending deliveries and recorded
// attempts go with the webhook through ON DELETE CASCADE.
func (s *Store) DeleteWebhook(ctx context.Context, orgID, id string) error {
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE id = $1 AND organization_id = $2`, id, orgID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("webhook %q: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// DueDeliveries implements webhook.Store through webhook_deliveries_due.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*webhook.Delivery, error) {
	out, err := query(ctx, s, scanDelivery, `SELECT d.id, d.webhook_id, w.url, w.secret, d.event_id, d.organization_id, d.sandbox_id,
		d.sandbox_name, d.time, d.from_state, d.to_state, d.cause, d.message, d.attempts
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.done_at IS NULL AND d.next_attempt_at <= $1 ORDER BY d.next_attempt_at, d.id LIMIT $2`,
		micro(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return out, nil
}

// ClaimDeliveries implements webhook.Store: the due rows are locked
// with SKIP LOCKED and moved to now+lease in one statement, so that of
// two replicas claiming at once each gets other deliveries.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*webhook.Delivery, error) {
	var out []*webhook.Delivery
	err := s.write(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `WITH due AS (
				SELECT id FROM webhook_deliveries WHERE done_at IS NULL AND next_attempt_at <= $1
				ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),
			claimed AS (
				UPDATE webhook_deliveries d SET next_attempt_at = $3 FROM due WHERE d.id = due.id
				RETURNING d.id, d.webhook_id, d.event_id, d.organization_id, d.sandbox_id, d.sandbox_name,
					d.time, d.from_state, d.to_state, d.cause, d.message, d.attempts)
			SELECT c.id, c.webhook_id, w.url, w.secret, c.event_id, c.organization_id, c.sandbox_id,
				c.sandbox_name, c.time, c.from_state, c.to_state, c.cause, c.message, c.attempts
			FROM claimed c JOIN webhooks w ON w.id = c.webhook_id ORDER BY c.id`,
			micro(now), limit, micro(now.Add(lease)))
		var err error
		out, err = collect(rows, scanDelivery)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

func scanDelivery(row pgx.CollectableRow) (*webhook.Delivery, error) {
	var d webhook.Delivery
	err := row.Scan(&d.ID, &d.WebhookID, &d.URL, &d.Secret, &d.EventID, &d.OrganizationID,
		&d.SandboxID, &d.SandboxName, &d.Time, &d.From, &d.To, &d.Cause, &d.Message, &d.Attempts)
	return &d, err
}

// FinishDelivery implements webhook.Store.
func (s *Store) FinishDelivery(ctx context.Context, id int64, at time.Time, delivered bool, lastErr string) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET done_at = $1, delivered = $2,
			attempts = attempts + 1, last_error = $3 WHERE id = $4`, micro(at), delivered, lastErr, id)
		return err
	})
}

// RetryDelivery implements webhook.Store.
func (s *Store) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2,
			last_error = $3 WHERE id = $4`, attempts, micro(next), lastErr, id)
		return err
	})
}

// PurgeDeliveries implements webhook.Store.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE done_at IS NOT NULL AND done_at < $1`,
			micro(before))
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// RecordAttempt implements webhook.Store: the insert and the trim of the
// webhook's older attempts commit together.
func (s *Store) RecordAttempt(ctx context.Context, a *webhook.Attempt) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO webhook_attempts (webhook_id, delivery_id, event, sandbox_id,
			from_state, to_state, attempt, time, status_code, error, latency_us, outcome)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			a.WebhookID, a.DeliveryID, a.Event, a.SandboxID, a.From, a.To, a.Attempt, micro(a.Time),
			a.StatusCode, a.Error, a.Latency.Microseconds(), a.Outcome).Scan(&a.ID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM webhook_attempts WHERE webhook_id = $1 AND id <= (
			SELECT id FROM webhook_attempts WHERE webhook_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`,
			a.WebhookID, webhook.AttemptsKept)
		return err
	})
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}

// ListAttempts implements webhook.Store.
func (s *Store) ListAttempts(ctx context.Context, orgID, id string) ([]*webhook.Attempt, error) {
	var out []*webhook.Attempt
	err := s.read(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE id = $1 AND organization_id = $2`,
			id, orgID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("webhook %q: %w", id, errdefs.ErrNotFound)
		}
		rows, _ := tx.Query(ctx, `SELECT id, webhook_id, delivery_id, event, sandbox_id, from_state,
			to_state, attempt, time, status_code, error, latency_us, outcome
			FROM webhook_attempts WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2`, id, webhook.AttemptsKept)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*webhook.Attempt, error) {
			var a webhook.Attempt
			var us int64
			err := row.Scan(&a.ID, &a.WebhookID, &a.DeliveryID, &a.Event, &a.SandboxID, &a.From, &a.To,
				&a.Attempt, &a.Time, &a.StatusCode, &a.Error, &us, &a.Outcome)
			a.Latency = time.Duration(us) * time.Microsecond
			return &a, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("webhook attempts: %w", err)
	}
	return out, nil
}
