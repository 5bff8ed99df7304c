// Package postgres is the Store several hutch serve processes share: one
// PostgreSQL database, reached with pgx. It keeps the same records and
// answers the same questions as the embedded SQLite store (store/storetest
// holds both to one suite), and it keeps no state in the process that
// another replica would need: every rule that must hold across processes
// (one winner per sandbox version, unique live names, migrations applied
// once) is the database's.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store keeps Hutch's state in a PostgreSQL database.
//
// Writes run in READ COMMITTED transactions. An update of a sandbox names
// the version it read (UPDATE ... WHERE version = $n): PostgreSQL locks the
// row, and a concurrent update of the same row, from this process or
// another, waits for the lock and then re-checks its WHERE against the
// committed row, so that it matches nothing and fails with a conflict
// instead of overwriting (no lost update, and no in-process lock to share).
type Store struct {
	pool *pgxpool.Pool
	// archivePool carries the archive store's streams (archives.go), as
	// many at once as pool takes, apart from the records' queries.
	archivePool *pgxpool.Pool
	// origin names this store in the event notifications it sends
	// (notify.go), so that its own Listen leaves them out.
	origin    string
	listening atomic.Bool
	own       ownEvents // the events it logged lately, for Listen's catch-up
	// observer, when set, times every transaction and point read.
	observer func(op string, d time.Duration, err error)
}

// Open connects to the database rawURL names (postgres://user@host/db?...,
// as libpq takes it) and brings its schema up to date. Errors name the
// URL without its password.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	shown := Redact(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	// Times come back in UTC, as the SQLite store returns them.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	// A pool connects when first used: a server that archives nothing
	// opens no connection for archives.
	archivePool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	return &Store{pool: pool, archivePool: archivePool, origin: ids.New("st_")}, nil
}

// Redact returns rawURL with its password, if any, replaced by xxxxx, for
// logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// Close closes the pools.
func (s *Store) Close() error {
	s.pool.Close()
	s.archivePool.Close()
	return nil
}

// Observe times every write transaction and read from now on with f
// (the server's metrics). Call it before the store is shared.
func (s *Store) Observe(f func(op string, d time.Duration, err error)) { s.observer = f }

func (s *Store) observe(op string, start time.Time, err *error) {
	if s.observer != nil {
		s.observer(op, time.Since(start), *err)
	}
}

// write runs fn in a transaction and commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	defer s.observe("write", time.Now(), &err)
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// read runs fn in a read-only REPEATABLE READ transaction, so that
// several queries (a count and a page) see one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	defer s.observe("read", time.Now(), &err)
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// queryRow runs a single-statement read outside a transaction.
func (s *Store) queryRow(ctx context.Context, scan func(pgx.Row) error, query string, args ...any) (err error) {
	defer s.observe("read", time.Now(), &err)
	return scan(s.pool.QueryRow(ctx, query, args...))
}

// query runs a single-statement read outside a transaction and collects
// its rows with scan.
func query[T any](ctx context.Context, s *Store, scan func(pgx.CollectableRow) (T, error), q string, args ...any) (out []T, err error) {
	defer s.observe("read", time.Now(), &err)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// collect is pgx.CollectRows, except that no rows is a nil slice, as the
// SQLite store answers.
func collect[T any](rows pgx.Rows, scan func(pgx.CollectableRow) (T, error)) ([]T, error) {
	return pgx.AppendRows([]T(nil), rows, scan)
}

// PostgreSQL error codes the store turns into error classes.
const (
	codeUnique     = "23505"
	codeForeignKey = "23503"
)

// violation returns the constraint err violated when its SQLSTATE is
// code, or "" otherwise.
func violation(err error, code string) (constraint string, ok bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == code {
		return pe.ConstraintName, true
	}
	return "", false
}
