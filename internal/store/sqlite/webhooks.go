package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/webhook"
)

// CreateWebhook implements webhook.Store.
func (s *Store) CreateWebhook(ctx context.Context, w *webhook.Webhook) error {
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, organization_id, url, secret, created_at)
			VALUES (?, ?, ?, ?, ?)`, w.ID, w.OrganizationID, w.URL, w.Secret, formatTime(w.CreatedAt))
		if constraint(err) == codePrimaryKey {
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
	rows, err := s.r.QueryContext(ctx, `SELECT id, organization_id, url, secret, created_at FROM webhooks
		WHERE organization_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*webhook.Webhook
	for rows.Next() {
		var (
			w  webhook.Webhook
			at string
		)
		if err := rows.Scan(&w.ID, &w.OrganizationID, &w.URL, &w.Secret, &at); err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		if w.CreatedAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, &w)
	}
	return out, rows.Err()
}

// DeleteWebhook implements webhook.Store; pending deliveries go with the
// webhook through ON DELETE CASCADE.
func (s *Store) DeleteWebhook(ctx context.Context, orgID, id string) error {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ? AND organization_id = ?`, id, orgID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
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
	return dueDeliveries(ctx, s.r, now, limit)
}

// ClaimDeliveries implements webhook.Store: the read and the move of
// next_attempt_at share the one write transaction, which SQLite runs
// alone.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*webhook.Delivery, error) {
	var out []*webhook.Delivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = dueDeliveries(ctx, tx, now, limit); err != nil {
			return err
		}
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?`,
				formatTime(now.Add(lease)), d.ID); err != nil {
				return fmt.Errorf("claim delivery %d: %w", d.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func dueDeliveries(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, now time.Time, limit int) ([]*webhook.Delivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT d.id, d.webhook_id, w.url, w.secret, d.event_id,
		d.organization_id, d.sandbox_id, d.sandbox_name, d.time, d.from_state, d.to_state, d.cause,
		d.message, d.attempts
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.done_at IS NULL AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?`,
		formatTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	defer rows.Close()
	var out []*webhook.Delivery
	for rows.Next() {
		var (
			d  webhook.Delivery
			at string
		)
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.URL, &d.Secret, &d.EventID, &d.OrganizationID,
			&d.SandboxID, &d.SandboxName, &at, &d.From, &d.To, &d.Cause, &d.Message, &d.Attempts); err != nil {
			return nil, fmt.Errorf("due deliveries: %w", err)
		}
		if d.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, &d)
	}
	return out, rows.Err()
}

// FinishDelivery implements webhook.Store.
func (s *Store) FinishDelivery(ctx context.Context, id int64, at time.Time, delivered bool, lastErr string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET done_at = ?, delivered = ?,
			attempts = attempts + 1, last_error = ? WHERE id = ?`, formatTime(at), delivered, lastErr, id)
		return err
	})
}

// RetryDelivery implements webhook.Store.
func (s *Store) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?,
			last_error = ? WHERE id = ?`, attempts, formatTime(next), lastErr, id)
		return err
	})
}

// PurgeDeliveries implements webhook.Store.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE done_at IS NOT NULL AND done_at < ?`,
			formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// RecordAttempt implements webhook.Store: the insert and the trim of the
// webhook's older attempts commit together.
func (s *Store) RecordAttempt(ctx context.Context, a *webhook.Attempt) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (webhook_id, delivery_id, event, sandbox_id,
			from_state, to_state, attempt, time, status_code, error, latency_us, outcome)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.WebhookID, a.DeliveryID, a.Event, a.SandboxID,
			a.From, a.To, a.Attempt, formatTime(a.Time), a.StatusCode, a.Error, a.Latency.Microseconds(), a.Outcome)
		if err != nil {
			return err
		}
		if a.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE webhook_id = ? AND id <= (
			SELECT id FROM webhook_attempts WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			a.WebhookID, a.WebhookID, webhook.AttemptsKept)
		return err
	})
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}

// ListAttempts implements webhook.Store.
func (s *Store) ListAttempts(ctx context.Context, orgID, id string) ([]*webhook.Attempt, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE id = ? AND organization_id = ?`,
		id, orgID).Scan(&n); err != nil {
		return nil, fmt.Errorf("webhook attempts: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("webhook %q: %w", id, errdefs.ErrNotFound)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, webhook_id, delivery_id, event, sandbox_id, from_state,
		to_state, attempt, time, status_code, error, latency_us, outcome
		FROM webhook_attempts WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`, id, webhook.AttemptsKept)
	if err != nil {
		return nil, fmt.Errorf("webhook attempts: %w", err)
	}
	defer rows.Close()
	out := []*webhook.Attempt{}
	for rows.Next() {
		var (
			a  webhook.Attempt
			at string
			us int64
		)
		if err := rows.Scan(&a.ID, &a.WebhookID, &a.DeliveryID, &a.Event, &a.SandboxID, &a.From, &a.To,
			&a.Attempt, &at, &a.StatusCode, &a.Error, &us, &a.Outcome); err != nil {
			return nil, fmt.Errorf("webhook attempts: %w", err)
		}
		if a.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		a.Latency = time.Duration(us) * time.Microsecond
		out = append(out, &a)
	}
	return out, rows.Err()
}
