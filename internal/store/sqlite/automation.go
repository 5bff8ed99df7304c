package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// ListExpired implements sandbox.AutomationStore through
// sandboxes_state_expires: one range per state asked for.
func (s *Store) ListExpired(ctx context.Context, q sandbox.ExpiryQuery) ([]*sandbox.Sandbox, error) {
	if len(q.States) == 0 {
		return nil, nil
	}
	in, args := statesIn(q.States)
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state IN (`+in+`) AND expires_at IS NOT NULL AND expires_at <= ?
		ORDER BY expires_at, id LIMIT ?`, append(args, formatTime(q.Now), q.Limit)...)
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

// timerOn returns t's columns and the condition, with its arguments,
// under which t runs.
func timerOn(t sandbox.Timer) (timerColumn, string, []any, error) {
	c, ok := timerColumns[t.Kind]
	if !ok {
		return c, "", nil, fmt.Errorf("unknown timer %q", t.Kind)
	}
	in, args := statesIn(t.States)
	return c, `state IN (` + in + `) AND ` + c.minutes + ` >= ?`, append(args, t.MinMinutes), nil
}

// ListTimerOn implements sandbox.AutomationStore. The state IN (...)
// prefix uses sandboxes_state_updated; the sandboxes a timer runs on are
// those in its states, few enough (auto-stop's are the running ones) to
// filter and sort without an index of their own.
func (s *Store) ListTimerOn(ctx context.Context, t sandbox.Timer, limit int) ([]*sandbox.Sandbox, error) {
	if len(t.States) == 0 {
		return nil, nil
	}
	c, where, args, err := timerOn(t)
	if err != nil {
		return nil, err
	}
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes WHERE `+where+`
		ORDER BY `+c.since+`, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list sandboxes with %s on: %w", t.Kind, err)
	}
	return items, nil
}

// ListTimerDue implements sandbox.AutomationStore. The state IN (...)
// prefix uses sandboxes_state_updated; the per-row interval is compared in
// whole milliseconds through julianday, which reads the stored time format
// to the millisecond.
func (s *Store) ListTimerDue(ctx context.Context, q sandbox.TimerQuery) ([]*sandbox.Sandbox, error) {
	if len(q.Timer.States) == 0 {
		return nil, nil
	}
	c, where, args, err := timerOn(q.Timer)
	if err != nil {
		return nil, err
	}
	ms := float64(q.Minute) / float64(time.Millisecond)
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes WHERE `+where+`
		AND round((julianday(?) - julianday(`+c.since+`)) * 86400000.0) >= `+c.minutes+` * ?
		ORDER BY `+c.since+`, id LIMIT ?`, append(args, formatTime(q.Now), ms, q.Limit)...)
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
	in, args := statesIn(q.States)
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state IN (`+in+`) AND pause_release_at IS NOT NULL AND pause_release_at <= ?
		AND pause_memory = ? ORDER BY pause_release_at, id LIMIT ?`,
		append(args, formatTime(q.Now), string(sandbox.MemoryResident), q.Limit)...)
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
	in, args := statesIn(q.States)
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state IN (`+in+`) AND updated_at < ? ORDER BY updated_at, id LIMIT ?`,
		append(args, formatTime(q.Before), q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list stale sandboxes: %w", err)
	}
	return items, nil
}

// statesIn returns the placeholders and arguments of state IN (...) for
// a non-empty set of states.
func statesIn(states []sandbox.State) (string, []any) {
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = string(st)
	}
	return "?" + strings.Repeat(", ?", len(states)-1), args
}

// AppendEvent implements sandbox.AutomationStore.
func (s *Store) AppendEvent(ctx context.Context, ev sandbox.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		sb := &sandbox.Sandbox{ID: ev.SandboxID}
		err := tx.QueryRowContext(ctx, `SELECT organization_id, name FROM sandboxes WHERE id = ?`, ev.SandboxID).
			Scan(&sb.OrganizationID, &sb.Name)
		if errors.Is(err, sql.ErrNoRows) {
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
	var (
		timeout            sql.NullInt64
		stop, archive, del sql.NullInt64
		autoPause          sql.NullInt64
		pauseMemory        sql.NullString
		releaseAfter       sql.NullInt64
		runtime            sql.NullString
		usePools           sql.NullBool
		updated            string
	)
	err := s.r.QueryRowContext(ctx, `SELECT timeout_seconds, auto_stop_minutes, auto_archive_minutes,
		auto_delete_minutes, pause_memory, pause_release_after_seconds, default_runtime, use_pools, updated_at,
		auto_pause_minutes FROM organization_settings WHERE organization_id = ?`, orgID).
		Scan(&timeout, &stop, &archive, &del, &pauseMemory, &releaseAfter, &runtime, &usePools, &updated, &autoPause)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("organization settings of %s: %w", orgID, err)
	}
	if timeout.Valid {
		out.TimeoutSeconds = &timeout.Int64
	}
	if pauseMemory.Valid {
		m := sandbox.PauseMemory(pauseMemory.String)
		out.PauseMemory = &m
	}
	if releaseAfter.Valid {
		out.PauseReleaseAfterSeconds = &releaseAfter.Int64
	}
	if runtime.Valid {
		out.DefaultRuntime = &runtime.String
	}
	if usePools.Valid {
		out.UsePools = &usePools.Bool
	}
	for _, f := range []struct {
		v   sql.NullInt64
		dst **int
	}{{stop, &out.AutoStopMinutes}, {autoPause, &out.AutoPauseMinutes}, {archive, &out.AutoArchiveMinutes}, {del, &out.AutoDeleteMinutes}} {
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
	var timeout, pauseMemory, releaseAfter, runtime, usePools any
	if o.DefaultRuntime != nil {
		runtime = *o.DefaultRuntime
	}
	if o.UsePools != nil {
		usePools = *o.UsePools
	}
	if o.TimeoutSeconds != nil {
		timeout = *o.TimeoutSeconds
	}
	if o.PauseMemory != nil {
		pauseMemory = string(*o.PauseMemory)
	}
	if o.PauseReleaseAfterSeconds != nil {
		releaseAfter = *o.PauseReleaseAfterSeconds
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organization_settings (organization_id, timeout_seconds,
			auto_stop_minutes, auto_archive_minutes, auto_delete_minutes, pause_memory,
			pause_release_after_seconds, default_runtime, use_pools, updated_at, auto_pause_minutes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (organization_id) DO UPDATE SET timeout_seconds = excluded.timeout_seconds,
			auto_stop_minutes = excluded.auto_stop_minutes, auto_pause_minutes = excluded.auto_pause_minutes,
			auto_archive_minutes = excluded.auto_archive_minutes,
			auto_delete_minutes = excluded.auto_delete_minutes, pause_memory = excluded.pause_memory,
			pause_release_after_seconds = excluded.pause_release_after_seconds,
			default_runtime = excluded.default_runtime, use_pools = excluded.use_pools, updated_at = excluded.updated_at`,
			o.OrganizationID, timeout, intOrNil(o.AutoStopMinutes), intOrNil(o.AutoArchiveMinutes),
			intOrNil(o.AutoDeleteMinutes), pauseMemory, releaseAfter, runtime, usePools, formatTime(o.UpdatedAt),
			intOrNil(o.AutoPauseMinutes))
		return err
	})
	if err != nil {
		return fmt.Errorf("put organization settings of %s: %w", o.OrganizationID, err)
	}
	return nil
}
