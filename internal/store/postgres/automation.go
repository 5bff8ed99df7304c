package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// ListExpired implements sandbox.AutomationStore through
// sandboxes_state_expires.
func (s *Store) ListExpired(ctx context.Context, q sandbox.ExpiryQuery) ([]*sandbox.Sandbox, error) {
	if len(q.States) == 0 {
		return nil, nil
	}
	items, err := query(ctx, s, scanSandbox, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state = ANY($1) AND expires_at IS NOT NULL AND expires_at <= $2
		ORDER BY expires_at, id LIMIT $3`, statesArg(q.States), micro(q.Now), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list expired sandboxes: %w", err)
	}
	return items, nil
}

// timerColumn names the setting and start columns of one interval timer.
type timerColumn struct{ minutes, since string }

var timerColumns = map[sandbox.TimerKind]timerColumn{
	sandbox.TimerAutoStop:    {"auto_stop_minutes", "last_activity_at"},
	sandbox.TimerAutoPause:   {"auto_pause_minutes", "last_activity_at"},
	sandbox.TimerAutoArchive: {"auto_archive_minutes", "updated_at"},
	sandbox.TimerAutoDelete:  {"auto_delete_minutes", "updated_at"},
}

// timerOn returns t's columns and the condition under which t runs, on
// parameters $1 (the states) and $2 (the least setting).
func timerOn(t sandbox.Timer) (timerColumn, string, error) {
	c, ok := timerColumns[t.Kind]
	if !ok {
		return c, "", fmt.Errorf("unknown timer %q", t.Kind)
	}
	return c, `state = ANY($1) AND ` + c.minutes + ` >= $2`, nil
}

// ListTimerOn implements sandbox.AutomationStore; the state prefix uses
// sandboxes_state_updated.
func (s *Store) ListTimerOn(ctx context.Context, t sandbox.Timer, limit int) ([]*sandbox.Sandbox, error) {
	if len(t.States) == 0 {
		return nil, nil
	}
	c, where, err := timerOn(t)
	if err != nil {
		return nil, err
	}
	items, err := query(ctx, s, scanSandbox, `SELECT `+sandboxColumns+` FROM sandboxes WHERE `+where+`
		ORDER BY `+c.since+`, id LIMIT $3`, statesArg(t.States), t.MinMinutes, limit)
	if err != nil {
		return nil, fmt.Errorf("list sandboxes with %s on: %w", t.Kind, err)
	}
	return items, nil
}

// ListTimerDue implements sandbox.AutomationStore. Each row's interval
// (its setting times q.Minute) is compared with the time since its start
// column in microseconds, the precision the times are stored at.
func (s *Store) ListTimerDue(ctx context.Context, q sandbox.TimerQuery) ([]*sandbox.Sandbox, error) {
	if len(q.Timer.States) == 0 {
		return nil, nil
	}
	c, where, err := timerOn(q.Timer)
	if err != nil {
		return nil, err
	}
	items, err := query(ctx, s, scanSandbox, `SELECT `+sandboxColumns+` FROM sandboxes WHERE `+where+`
		AND $3::timestamptz - `+c.since+` >= (`+c.minutes+` * $4::bigint) * interval '1 microsecond'
		ORDER BY `+c.since+`, id LIMIT $5`,
		statesArg(q.Timer.States), q.Timer.MinMinutes, micro(q.Now), q.Minute.Microseconds(), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list sandboxes with %s due: %w", q.Timer.Kind, err)
	}
	return items, nil
}

// ListPauseReleaseDue implements sandbox.AutomationStore through
// sandboxes_state_pause_release.
func (s *Store) ListPauseReleaseDue(ctx context.Context, q sandbox.ExpiryQuery) ([]*sandbox.Sandbox, error) {
	if len(q.States) == 0 {
		return nil, nil
	}
	items, err := query(ctx, s, scanSandbox, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state = ANY($1) AND pause_release_at IS NOT NULL AND pause_release_at <= $2
		AND pause_memory = $3 ORDER BY pause_release_at, id LIMIT $4`,
		statesArg(q.States), micro(q.Now), string(sandbox.MemoryResident), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list sandboxes due to move to disk: %w", err)
	}
	return items, nil
}

// ListStale implements sandbox.AutomationStore through
// sandboxes_state_updated.
func (s *Store) ListStale(ctx context.Context, q sandbox.StaleQuery) ([]*sandbox.Sandbox, error) {
	if len(q.States) == 0 {
		return nil, nil
	}
	items, err := query(ctx, s, scanSandbox, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state = ANY($1) AND updated_at < $2 ORDER BY updated_at, id LIMIT $3`,
		statesArg(q.States), micro(q.Before), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list stale sandboxes: %w", err)
	}
	return items, nil
}

// AppendEvent implements sandbox.AutomationStore.
func (s *Store) AppendEvent(ctx context.Context, ev sandbox.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		sb := &sandbox.Sandbox{ID: ev.SandboxID}
		err := tx.QueryRow(ctx, `SELECT organization_id, name, state FROM sandboxes WHERE id = $1`, ev.SandboxID).
			Scan(&sb.OrganizationID, &sb.Name, &sb.State)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("sandbox %q: %w", ev.SandboxID, errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, sb, ev, ev.Time)
	})
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}

// GetOrgSettings implements sandbox.AutomationStore.
func (s *Store) GetOrgSettings(ctx context.Context, orgID string) (*sandbox.OrgSettings, error) {
	out := &sandbox.OrgSettings{OrganizationID: orgID}
	var pauseMemory *string
	err := s.queryRow(ctx, func(row pgx.Row) error {
		return row.Scan(&out.TimeoutSeconds, &out.AutoStopMinutes, &out.AutoArchiveMinutes, &out.AutoDeleteMinutes,
			&pauseMemory, &out.PauseReleaseAfterSeconds, &out.DefaultRuntime, &out.UsePools, &out.UpdatedAt,
			&out.AutoPauseMinutes)
	}, `SELECT timeout_seconds, auto_stop_minutes, auto_archive_minutes, auto_delete_minutes, pause_memory,
		pause_release_after_seconds, default_runtime, use_pools, updated_at, auto_pause_minutes
		FROM organization_settings WHERE organization_id = $1`, orgID)
	if errors.Is(err, pgx.ErrNoRows) {
		return &sandbox.OrgSettings{OrganizationID: orgID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("organization settings of %s: %w", orgID, err)
	}
	if pauseMemory != nil {
		m := sandbox.PauseMemory(*pauseMemory)
		out.PauseMemory = &m
	}
	return out, nil
}

// PutOrgSettings implements sandbox.AutomationStore.
func (s *Store) PutOrgSettings(ctx context.Context, o *sandbox.OrgSettings) error {
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = time.Now()
	}
	o.UpdatedAt = micro(o.UpdatedAt)
	var pauseMemory *string
	if o.PauseMemory != nil {
		m := string(*o.PauseMemory)
		pauseMemory = &m
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO organization_settings (organization_id, timeout_seconds,
			auto_stop_minutes, auto_archive_minutes, auto_delete_minutes, pause_memory,
			pause_release_after_seconds, default_runtime, use_pools, updated_at, auto_pause_minutes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (organization_id) DO UPDATE SET timeout_seconds = excluded.timeout_seconds,
			auto_stop_minutes = excluded.auto_stop_minutes, auto_pause_minutes = excluded.auto_pause_minutes,
			auto_archive_minutes = excluded.auto_archive_minutes,
			auto_delete_minutes = excluded.auto_delete_minutes, pause_memory = excluded.pause_memory,
			pause_release_after_seconds = excluded.pause_release_after_seconds,
			default_runtime = excluded.default_runtime, use_pools = excluded.use_pools, updated_at = excluded.updated_at`,
			o.OrganizationID, o.TimeoutSeconds, o.AutoStopMinutes, o.AutoArchiveMinutes, o.AutoDeleteMinutes,
			pauseMemory, o.PauseReleaseAfterSeconds, o.DefaultRuntime, o.UsePools, o.UpdatedAt, o.AutoPauseMinutes)
		return err
	})
	if err != nil {
		return fmt.Errorf("put organization settings of %s: %w", o.OrganizationID, err)
	}
	return nil
}
