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

// CreateSandbox inserts sb, its metadata rows and ev in one transaction.
// Zero CreatedAt, UpdatedAt and LastActivityAt are set to now, so that the
// record always has a place in the list order. sb.Version is stored as
// given.
func (s *Store) CreateSandbox(ctx context.Context, sb *sandbox.Sandbox, ev sandbox.Event) error {
	if sb.CreatedAt.IsZero() {
		sb.CreatedAt = time.Now().UTC()
	}
	if sb.UpdatedAt.IsZero() {
		sb.UpdatedAt = sb.CreatedAt
	}
	if sb.LastActivityAt.IsZero() {
		sb.LastActivityAt = sb.CreatedAt
	}
	args, err := sandboxArgs(sb)
	if err != nil {
		return fmt.Errorf("create sandbox %s: %w", sb.ID, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, insertSandboxSQL, args...); err != nil {
			switch constraint(err) {
			case codePrimaryKey:
				return fmt.Errorf("sandbox id %q: %w", sb.ID, errdefs.ErrAlreadyExists)
			case codeUnique:
				return fmt.Errorf("sandbox name %q: %w", sb.Name, errdefs.ErrAlreadyExists)
			}
			return err
		}
		if err := s.insertMetadata(ctx, tx, sb.ID, sb.Metadata); err != nil {
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
// sandbox that is not deleted, since a deleted sandbox has given its name
// up. Another organisation's sandbox is not found, exactly like a missing
// one, so that existence does not leak.
func (s *Store) GetSandbox(ctx context.Context, orgID, idOrName string) (*sandbox.Sandbox, error) {
	row := s.queryRow(ctx, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE organization_id = ? AND (id = ? OR (name = ? AND state <> 'deleted'))
		ORDER BY id = ? DESC LIMIT 1`, orgID, idOrName, idOrName, idOrName)
	sb, err := scanSandbox(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sandbox %q: %w", idOrName, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get sandbox %q: %w", idOrName, err)
	}
	return sb, nil
}

// GetSandboxByID finds a sandbox in any organisation and state.
func (s *Store) GetSandboxByID(ctx context.Context, id string) (*sandbox.Sandbox, error) {
	row := s.queryRow(ctx, `SELECT `+sandboxColumns+` FROM sandboxes WHERE id = ?`, id)
	sb, err := scanSandbox(row)
	if errors.Is(err, sql.ErrNoRows) {
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
func (s *Store) UpdateSandbox(ctx context.Context, sb *sandbox.Sandbox, ev sandbox.Event) error {
	next := *sb
	if next.UpdatedAt.IsZero() {
		next.UpdatedAt = time.Now().UTC()
	}
	args, err := sandboxArgs(&next)
	if err != nil {
		return fmt.Errorf("update sandbox %s: %w", sb.ID, err)
	}
	var vals []any
	for i, c := range sandboxCols {
		if !immutableColumn(c) {
			vals = append(vals, args[i])
		}
	}
	vals = append(vals, sb.ID, sb.OrganizationID, sb.Version)

	var activity string
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := s.txQueryRow(ctx, tx, updateSandboxSQL, vals...).Scan(&activity)
		if errors.Is(err, sql.ErrNoRows) {
			return missingOrStale(ctx, tx, sb)
		}
		if constraint(err) == codeUnique {
			return fmt.Errorf("sandbox name %q: %w", sb.Name, errdefs.ErrAlreadyExists)
		}
		if err != nil {
			return err
		}
		if err := s.syncMetadata(ctx, tx, sb.ID, sb.Metadata); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, &next, ev, next.UpdatedAt)
	})
	if err != nil {
		return fmt.Errorf("update sandbox: %w", err)
	}
	last, err := parseTime(activity)
	if err != nil {
		return fmt.Errorf("update sandbox %s: %w", sb.ID, err)
	}
	sb.Version++
	sb.UpdatedAt = next.UpdatedAt
	sb.LastActivityAt = last
	return nil
}

// missingOrStale explains an update that matched no row: the sandbox is
// gone (or belongs to another organisation), or someone wrote it since sb
// was read.
func missingOrStale(ctx context.Context, tx *sql.Tx, sb *sandbox.Sandbox) error {
	var version int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM sandboxes WHERE id = ? AND organization_id = ?`,
		sb.ID, sb.OrganizationID).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sandbox %q: %w", sb.ID, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("sandbox %q: version %d was read, %d is stored: %w",
		sb.ID, sb.Version, version, errdefs.ErrConflict)
}

// syncMetadata makes sandbox_metadata mirror md for one sandbox.
func (s *Store) syncMetadata(ctx context.Context, tx *sql.Tx, id string, md map[string]string) error {
	if _, err := s.txExec(ctx, tx, deleteMetadataSQL, id); err != nil {
		return err
	}
	return s.insertMetadata(ctx, tx, id, md)
}

// insertMetadata writes md's rows for a sandbox that has none.
func (s *Store) insertMetadata(ctx context.Context, tx *sql.Tx, id string, md map[string]string) error {
	for k, v := range md {
		if _, err := s.txExec(ctx, tx, insertMetadataSQL, id, k, v); err != nil {
			return err
		}
	}
	return nil
}

// insertEvent appends ev to sb's log unless ev.Type is empty; a zero
// ev.Time becomes at, the time of the write it records. An announced event
// queues one delivery per webhook of sb's organisation in the same
// transaction, so that a crash can lose neither (at-least-once delivery);
// a delivery copies what it sends, sb's name as of this write included, so
// that it outlives the purge of its sandbox.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, sb *sandbox.Sandbox, ev sandbox.Event, at time.Time) error {
	if ev.Type == "" {
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = at
	}
	when := formatTime(ev.Time)
	res, err := s.txExec(ctx, tx, insertEventSQL, sb.ID, when, ev.Type, string(ev.From), string(ev.To), ev.Cause, ev.Message)
	if err != nil || !ev.Announced() {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	_, err = s.txExec(ctx, tx, queueDeliveriesSQL, id, sb.OrganizationID, sb.ID, sb.Name, when,
		string(ev.From), string(ev.To), ev.Cause, ev.Message, when, sb.OrganizationID)
	return err
}

// The statements of the write paths every transition takes; Open prepares
// them once on the writer connection.
var (
	insertSandboxSQL = `INSERT INTO sandboxes (` + sandboxColumns + `) VALUES (?` +
		strings.Repeat(", ?", len(sandboxCols)-1) + `)`
	updateSandboxSQL  = buildUpdateSandbox()
	deleteMetadataSQL = `DELETE FROM sandbox_metadata WHERE sandbox_id = ?`
	insertMetadataSQL = `INSERT INTO sandbox_metadata (sandbox_id, key, value) VALUES (?, ?, ?)`
	insertEventSQL    = `INSERT INTO events (sandbox_id, time, type, from_state, to_state, cause, message)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	queueDeliveriesSQL = `INSERT INTO webhook_deliveries (webhook_id, event_id, organization_id,
		sandbox_id, sandbox_name, time, from_state, to_state, cause, message, next_attempt_at)
		SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM webhooks WHERE organization_id = ?`
	touchSandboxSQL = `UPDATE sandboxes SET last_activity_at = max(last_activity_at, ?) WHERE id = ?`

	hotWrites = []string{insertSandboxSQL, updateSandboxSQL, deleteMetadataSQL, insertMetadataSQL,
		insertEventSQL, queueDeliveriesSQL, touchSandboxSQL}
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
	for _, c := range sandboxCols {
		switch {
		case immutableColumn(c):
		case c == "last_activity_at":
			set = append(set, "last_activity_at = max(last_activity_at, ?)")
		default:
			set = append(set, c+" = ?")
		}
	}
	return `UPDATE sandboxes SET ` + strings.Join(set, ", ") + `, version = version + 1
		WHERE id = ? AND organization_id = ? AND version = ? RETURNING last_activity_at`
}
