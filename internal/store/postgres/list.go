package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// defaultPageSize applies when a caller passes no page size.
const defaultPageSize = 20

// ListSandboxes returns one page of an organisation's sandboxes, newest
// first, and how many match in all. Filtering, counting and paging happen
// in SQL, in one REPEATABLE READ snapshot, so the count and the page agree.
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
	err := s.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM sandboxes WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		offset := (page - 1) * size
		if total <= offset {
			return nil
		}
		n := len(args)
		rows, _ := tx.Query(ctx, `SELECT `+sandboxColumns+` FROM sandboxes WHERE `+where+
			` ORDER BY created_at DESC, id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
			append(args, size, offset)...)
		var err error
		items, err = collect(rows, scanSandbox)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list sandboxes: %w", err)
	}
	return items, total, nil
}

// listWhere turns f into a WHERE clause over sandboxes. The metadata
// filter is one jsonb containment (every key and value at once), served
// by the sandboxes_metadata GIN index.
func listWhere(f sandbox.ListFilter) (string, []any) {
	conds := []string{"organization_id = $1"}
	args := []any{f.OrganizationID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.States) == 0 {
		conds = append(conds, "state <> 'deleted'")
	} else {
		conds = append(conds, "state = ANY("+arg(statesArg(f.States))+")")
	}
	if len(f.Metadata) > 0 {
		conds = append(conds, "metadata @> "+arg(jsonText(f.Metadata))+"::jsonb")
	}
	if f.NamePrefix != "" {
		conds = append(conds, `name LIKE `+arg(escapeLike(f.NamePrefix)+"%")+` ESCAPE '\'`)
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
	items, err := query(ctx, s, scanSandbox, `SELECT `+sandboxColumns+` FROM sandboxes
		WHERE state <> 'deleted' ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list all sandboxes: %w", err)
	}
	return items, nil
}

// PurgeDeleted removes deleted sandboxes last updated before t; their
// events go with them through ON DELETE CASCADE.
func (s *Store) PurgeDeleted(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sandboxes WHERE state = 'deleted' AND updated_at < $1`, micro(before))
		n = tag.RowsAffected()
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sandboxes SET last_activity_at = greatest(last_activity_at, $1) WHERE id = $2`,
			micro(at), id)
		n = tag.RowsAffected()
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
	evs, err := query(ctx, s, func(row pgx.CollectableRow) (sandbox.Event, error) {
		var ev sandbox.Event
		var from, to string
		err := row.Scan(&ev.ID, &ev.SandboxID, &ev.Time, &ev.Type, &from, &to, &ev.Cause, &ev.Message)
		ev.From, ev.To = sandbox.State(from), sandbox.State(to)
		return ev, err
	}, `SELECT id, sandbox_id, time, type, from_state, to_state, cause, message
		FROM events WHERE sandbox_id = $1 ORDER BY id`, sandboxID)
	if err != nil {
		return nil, fmt.Errorf("list events of %q: %w", sandboxID, err)
	}
	return evs, nil
}
