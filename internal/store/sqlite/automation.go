package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// ListExpired implements sandbox.AutomationStore through the partial index
// sandboxes_expires.
func (s *Store) ListExpired(ctx context.Context, now time.Time, limit int) ([]*sandbox.Sandbox, error) {
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE expires_at IS NOT NULL AND state NOT IN ('deleting', 'deleted') AND expires_at <= ?
		ORDER BY expires_at LIMIT ?`, formatTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list expired sandboxes: %w", err)
	}
	return items, nil
}

// ListAutoStop implements sandbox.AutomationStore through the partial
// index sandboxes_auto_stop.
func (s *Store) ListAutoStop(ctx context.Context, limit int) ([]*sandbox.Sandbox, error) {
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE auto_stop_minutes > 0 AND state = 'running'
		ORDER BY last_activity_at LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list auto-stop sandboxes: %w", err)
	}
	return items, nil
}

// ListStoppedDue implements sandbox.AutomationStore. The state IN (...)
// prefix uses sandboxes_state_updated; the per-row interval is compared in
// milliseconds through julianday, which reads the stored time format.
func (s *Store) ListStoppedDue(ctx context.Context, now time.Time, unit time.Duration, archive bool, limit int) ([]*sandbox.Sandbox, error) {
	ms := float64(unit) / float64(time.Millisecond)
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state IN ('stopped', 'archived') AND (
			(auto_delete_minutes >= 0 AND
				(julianday(?1) - julianday(updated_at)) * 86400000.0 >= auto_delete_minutes * ?2)
			OR (?3 AND state = 'stopped' AND auto_archive_minutes > 0 AND
				(julianday(?1) - julianday(updated_at)) * 86400000.0 >= auto_archive_minutes * ?2))
		ORDER BY updated_at LIMIT ?4`, formatTime(now), ms, archive, limit)
	if err != nil {
		return nil, fmt.Errorf("list stopped sandboxes due: %w", err)
	}
	return items, nil
}

// ListStale implements sandbox.AutomationStore through
// sandboxes_state_updated.
func (s *Store) ListStale(ctx context.Context, before time.Time, limit int) ([]*sandbox.Sandbox, error) {
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state IN ('creating', 'pausing', 'resuming', 'stopping', 'starting', 'archiving', 'deleting')
			AND updated_at < ? ORDER BY updated_at LIMIT ?`, formatTime(before), limit)
	if err != nil {
		return nil, fmt.Errorf("list stale sandboxes: %w", err)
	}
	return items, nil
}

// AppendEvent implements sandbox.AutomationStore.
func (s *Store) AppendEvent(ctx context.Context, ev sandbox.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM sandboxes WHERE id = ?`, ev.SandboxID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sandbox %q: %w", ev.SandboxID, errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, ev.SandboxID, ev, ev.Time)
	})
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}

// GetOrgSettings implements sandbox.AutomationStore.
func (s *Store) GetOrgSettings(ctx context.Context, orgID string) (*sandbox.OrgSettings, error) {
	out := &sandbox.OrgSettings{OrganizationID: orgID}
	var (
		timeout            sql.NullInt64
		stop, archive, del sql.NullInt64
		updated            string
	)
	err := s.r.QueryRowContext(ctx, `SELECT timeout_seconds, auto_stop_minutes, auto_archive_minutes,
		auto_delete_minutes, updated_at FROM organization_settings WHERE organization_id = ?`, orgID).
		Scan(&timeout, &stop, &archive, &del, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("organization settings of %s: %w", orgID, err)
	}
	if timeout.Valid {
		out.TimeoutSeconds = &timeout.Int64
	}
	for _, f := range []struct {
		v   sql.NullInt64
		dst **int
	}{{stop, &out.AutoStopMinutes}, {archive, &out.AutoArchiveMinutes}, {del, &out.AutoDeleteMinutes}} {
		if f.v.Valid {
			n := int(f.v.Int64)
			*f.dst = &n
		}
	}
	if out.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return out, nil
}

// PutOrgSettings implements sandbox.AutomationStore.
func (s *Store) PutOrgSettings(ctx context.Context, o *sandbox.OrgSettings) error {
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = time.Now().UTC()
	}
	intOrNil := func(p *int) any {
		if p == nil {
			return nil
		}
		return *p
	}
	var timeout any
	if o.TimeoutSeconds != nil {
		timeout = *o.TimeoutSeconds
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organization_settings (organization_id, timeout_seconds,
			auto_stop_minutes, auto_archive_minutes, auto_delete_minutes, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (organization_id) DO UPDATE SET timeout_seconds = excluded.timeout_seconds,
			auto_stop_minutes = excluded.auto_stop_minutes, auto_archive_minutes = excluded.auto_archive_minutes,
			auto_delete_minutes = excluded.auto_delete_minutes, updated_at = excluded.updated_at`,
			o.OrganizationID, timeout, intOrNil(o.AutoStopMinutes), intOrNil(o.AutoArchiveMinutes),
			intOrNil(o.AutoDeleteMinutes), formatTime(o.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("put organization settings of %s: %w", o.OrganizationID, err)
	}
	return nil
}
