package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// defaultPageSize applies when a caller passes no page size.
const defaultPageSize = 20

// ListSandboxes returns one page of an organisation's sandboxes, newest
// first, and how many match in all. Filtering, counting and paging happen
// in SQL, in one read snapshot, so the count and the page agree.
func (s *Store) ListSandboxes(ctx context.Context, f sandbox.ListFilter) ([]*sandbox.Sandbox, int, error) {
	page, size := max(f.Page, 1), f.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	where, args := listWhere(f)
	var (
		total int
		items []*sandbox.Sandbox
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sandboxes s WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		offset := (page - 1) * size
		if total <= offset {
			return nil
		}
		var err error
		items, err = querySandboxes(ctx, tx, `SELECT `+sandboxColumns+` FROM sandboxes s WHERE `+where+
			` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(args, size, offset)...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list sandboxes: %w", err)
	}
	return items, total, nil
}

// listWhere turns f into a WHERE clause over sandboxes aliased s.
func listWhere(f sandbox.ListFilter) (string, []any) {
	conds := []string{"s.organization_id = ?"}
	args := []any{f.OrganizationID}
	if len(f.States) == 0 {
		conds = append(conds, "s.state <> 'deleted'")
	} else {
		conds = append(conds, "s.state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	for k, v := range f.Metadata {
		conds = append(conds, `EXISTS (SELECT 1 FROM sandbox_metadata m
			WHERE m.sandbox_id = s.id AND m.key = ? AND m.value = ?)`)
		args = append(args, k, v)
	}
	if f.NamePrefix != "" {
		conds = append(conds, `s.name LIKE ? ESCAPE '\'`)
		args = append(args, escapeLike(f.NamePrefix)+"%")
	}
	return strings.Join(conds, " AND "), args
}

// likeEscaper makes a name prefix match itself literally under
// LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func escapeLike(s string) string { return likeEscaper.Replace(s) }

// ListAllSandboxes returns every sandbox that is not deleted, in any
// organisation, oldest first, for recovery and timers after a restart.
func (s *Store) ListAllSandboxes(ctx context.Context) ([]*sandbox.Sandbox, error) {
	items, err := querySandboxes(ctx, s.r, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state <> 'deleted' ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list all sandboxes: %w", err)
	}
	return items, nil
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func querySandboxes(ctx context.Context, q querier, query string, args ...any) ([]*sandbox.Sandbox, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []*sandbox.Sandbox
	for rows.Next() {
		sb, err := scanSandbox(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, sb)
	}
	return items, rows.Err()
}

// PurgeDeleted removes deleted sandboxes last updated before t; their
// metadata rows and events go with them through ON DELETE CASCADE.
func (s *Store) PurgeDeleted(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sandboxes WHERE state = 'deleted' AND updated_at < ?`,
			formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge deleted sandboxes: %w", err)
	}
	return int(n), nil
}

// TouchSandbox moves last_activity_at forward to at, never back, so that
// activity reported out of order cannot make a busy sandbox look idle. It
// leaves the version alone: activity is not a transition and must not make
// a concurrent transition fail.
func (s *Store) TouchSandbox(ctx context.Context, id string, at time.Time) error {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, touchSandboxSQL, formatTime(at), id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("touch sandbox %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sandbox %q: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// ListEvents returns a sandbox's events oldest first; a sandbox with no
// events, or none at all, has an empty log.
func (s *Store) ListEvents(ctx context.Context, sandboxID string) ([]sandbox.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, sandbox_id, time, type, from_state, to_state, cause, message
		FROM events WHERE sandbox_id = ? ORDER BY id`, sandboxID)
	if err != nil {
		return nil, fmt.Errorf("list events of %q: %w", sandboxID, err)
	}
	defer rows.Close()
	var evs []sandbox.Event
	for rows.Next() {
		var (
			ev       sandbox.Event
			at       string
			from, to string
		)
		if err := rows.Scan(&ev.ID, &ev.SandboxID, &at, &ev.Type, &from, &to, &ev.Cause, &ev.Message); err != nil {
			return nil, fmt.Errorf("list events of %q: %w", sandboxID, err)
		}
		if ev.Time, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("list events of %q: %w", sandboxID, err)
		}
		ev.From, ev.To = sandbox.State(from), sandbox.State(to)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events of %q: %w", sandboxID, err)
	}
	return evs, nil
}
