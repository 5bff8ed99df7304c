package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// CreateSandbox inserts sb and ev in one transaction. Zero CreatedAt,
// UpdatedAt and LastActivityAt are set to now, so that the record always
// has a place in the list order; sb's times are left at the microsecond
// precision stored. sb.Version is stored as given.
func (s *Store) CreateSandbox(ctx context.Context, sb *sandbox.Sandbox, ev sandbox.Event) error {
	if sb.CreatedAt.IsZero() {
		sb.CreatedAt = time.Now()
	}
	if sb.UpdatedAt.IsZero() {
		sb.UpdatedAt = sb.CreatedAt
	}
	if sb.LastActivityAt.IsZero() {
		sb.LastActivityAt = sb.CreatedAt
	}
	sb.CreatedAt, sb.UpdatedAt, sb.LastActivityAt = micro(sb.CreatedAt), micro(sb.UpdatedAt), micro(sb.LastActivityAt)
	args := sandboxArgs(sb)
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertSandboxSQL, args...); err != nil {
			switch c, _ := violation(err, codeUnique); c {
			case "sandboxes_pkey":
				return fmt.Errorf("sandbox id %q: %w", sb.ID, errdefs.ErrAlreadyExists)
			case "sandboxes_live_name":
				return fmt.Errorf("sandbox name %q: %w", sb.Name, errdefs.ErrAlreadyExists)
			}
			return err
		}
		return s.insertEvent(ctx, tx, sb, ev, sb.CreatedAt)
	})
	if err != nil {
		return fmt.Errorf("create sandbox: %w", err)
	}
	return nil
}

// GetSandbox looks idOrName up as an ID first, deleted sandboxes included,
// so that a deleted record stays readable by its ID; then as the name of a
// sandbox that is not deleted. Another organisation's sandbox is not
// found, exactly like a missing one, so that existence does not leak.
func (s *Store) GetSandbox(ctx context.Context, orgID, idOrName string) (*sandbox.Sandbox, error) {
	var sb *sandbox.Sandbox
	err := s.queryRow(ctx, func(row pgx.Row) (err error) {
		sb, err = scanSandboxRow(row)
		return err
	}, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE organization_id = $1 AND (id = $2 OR (name = $2 AND state <> 'deleted'))
		ORDER BY id = $2 DESC LIMIT 1`, orgID, idOrName)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("sandbox %q: %w", idOrName, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get sandbox %q: %w", idOrName, err)
	}
	return sb, nil
}

// GetSandboxByID finds a sandbox in any organisation and state.
func (s *Store) GetSandboxByID(ctx context.Context, id string) (*sandbox.Sandbox, error) {
	var sb *sandbox.Sandbox
	err := s.queryRow(ctx, func(row pgx.Row) (err error) {
		sb, err = scanSandboxRow(row)
		return err
	}, `SELECT `+sandboxColumns+` FROM sandboxes WHERE id = $1`, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("sandbox %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get sandbox %q: %w", id, err)
	}
	return sb, nil
}

// UpdateSandbox writes sb when the stored version still equals sb.Version
// and appends ev in the same transaction. ID, organisation and CreatedAt
// never change. UpdatedAt is written as given (the lifecycle stamps it from
// its own clock), or now when zero. LastActivityAt only moves forward, so
// that a touch landing between the caller's read and this write is not
// lost; sb gets the stored value back.
//
// The version comparison is the UPDATE's WHERE: of two replicas updating
// one sandbox from the same read, the second waits for the first's row
// lock, finds the version moved, and gets errdefs.ErrConflict.
func (s *Store) UpdateSandbox(ctx context.Context, sb *sandbox.Sandbox, ev sandbox.Event) error {
	next := *sb
	if next.UpdatedAt.IsZero() {
		next.UpdatedAt = time.Now()
	}
	next.UpdatedAt = micro(next.UpdatedAt)
	args := sandboxArgs(&next)
	var vals []any
	for i, c := range sandboxCols {
		if !immutableColumn(c) {
			vals = append(vals, args[i])
		}
	}
	vals = append(vals, sb.ID, sb.OrganizationID, sb.Version)

	var activity time.Time
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, updateSandboxSQL, vals...).Scan(&activity)
		if errors.Is(err, pgx.ErrNoRows) {
			return missingOrStale(ctx, tx, sb)
		}
		if c, ok := violation(err, codeUnique); ok && c == "sandboxes_live_name" {
			return fmt.Errorf("sandbox name %q: %w", sb.Name, errdefs.ErrAlreadyExists)
		}
		if err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, &next, ev, next.UpdatedAt)
	})
	if err != nil {
		return fmt.Errorf("update sandbox: %w", err)
	}
	sb.Version++
	sb.UpdatedAt = next.UpdatedAt
	sb.LastActivityAt = activity
	return nil
}

// missingOrStale explains an update that matched no row: the sandbox is
// gone (or belongs to another organisation), or someone wrote it since sb
// was read.
func missingOrStale(ctx context.Context, tx pgx.Tx, sb *sandbox.Sandbox) error {
	var version int64
	err := tx.QueryRow(ctx, `SELECT version FROM sandboxes WHERE id = $1 AND organization_id = $2`,
		sb.ID, sb.OrganizationID).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("sandbox %q: %w", sb.ID, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("sandbox %q: version %d was read, %d is stored: %w",
		sb.ID, sb.Version, version, errdefs.ErrConflict)
}

// insertEvent appends ev to sb's log unless ev.Type is empty; a zero
// ev.Time becomes at, the time of the write it records. An announced event
// queues one delivery per webhook of sb's organisation in the same
// transaction, so that a crash can lose neither (at-least-once delivery);
// a delivery copies what it sends, sb's name as of this write included.
func (s *Store) insertEvent(ctx context.Context, tx pgx.Tx, sb *sandbox.Sandbox, ev sandbox.Event, at time.Time) error {
	if ev.Type == "" {
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = at
	}
	when := micro(ev.Time)
	var id int64
	err := tx.QueryRow(ctx, insertEventSQL, sb.ID, when, ev.Type, string(ev.From), string(ev.To), ev.Cause, ev.Message).Scan(&id)
	if err == nil {
		s.remember(id)
		err = notifyEvent(ctx, tx, s.origin, id, sb, ev)
	}
	if err != nil || !ev.Announced() {
		return err
	}
	_, err = tx.Exec(ctx, queueDeliveriesSQL, id, sb.OrganizationID, sb.ID, sb.Name, when,
		string(ev.From), string(ev.To), ev.Cause, ev.Message)
	return err
}

// The statements of the write paths every transition takes; pgx prepares
// each once per connection.
var (
	insertSandboxSQL = `INSERT INTO sandboxes (` + sandboxColumns + `) VALUES (` + params(1, len(sandboxCols)) + `)`
	updateSandboxSQL = buildUpdateSandbox()
	insertEventSQL   = `INSERT INTO events (sandbox_id, time, type, from_state, to_state, cause, message)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
	queueDeliveriesSQL = `INSERT INTO webhook_deliveries (webhook_id, event_id, organization_id,
		sandbox_id, sandbox_name, time, from_state, to_state, cause, message, next_attempt_at)
		SELECT id, $1, $2, $3, $4, $5, $6, $7, $8, $9, $5 FROM webhooks WHERE organization_id = $2`
)

// immutableColumn reports the columns an update never writes, or writes
// by its own rule (version).
func immutableColumn(c string) bool {
	switch c {
	case "id", "organization_id", "created_at", "version":
		return true
	}
	return false
}

// buildUpdateSandbox writes the UPDATE for UpdateSandbox: every mutable
// column in sandboxCols order, last_activity_at only forward, the version
// bumped and compared.
func buildUpdateSandbox() string {
	var set []string
	n := 0
	for _, c := range sandboxCols {
		if immutableColumn(c) {
			continue
		}
		n++
		p := "$" + strconv.Itoa(n)
		if c == "last_activity_at" {
			set = append(set, "last_activity_at = greatest(last_activity_at, "+p+")")
		} else {
			set = append(set, c+" = "+p)
		}
	}
	return `UPDATE sandboxes SET ` + strings.Join(set, ", ") + `, version = version + 1
		WHERE id = $` + strconv.Itoa(n+1) + ` AND organization_id = $` + strconv.Itoa(n+2) +
		` AND version = $` + strconv.Itoa(n+3) + ` RETURNING last_activity_at`
}
