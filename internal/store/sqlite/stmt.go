package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// stmtCache keeps prepared statements for the fixed queries of the hot
// paths (key lookup and get on every request, the writes of every
// transition). Parsing and planning is most of the cost of a point query
// in SQLite: preparing once made GetSandbox about 2.5 times faster.
// Queries built from a filter are not cached, as their shapes are many.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// get returns db's statement for query, preparing it on first use. It
// must not be called for the writer pool inside a write transaction: the
// prepare would wait for the one connection the transaction holds.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{db, query}
	c.mu.Lock()
	st, ok := c.stmts[k]
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[k]; ok { // prepared concurrently; keep one
		st.Close()
		return prev, nil
	}
	if c.stmts == nil {
		c.stmts = map[stmtKey]*sql.Stmt{}
	}
	c.stmts[k] = st
	return st, nil
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for k, st := range c.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.stmts, k)
	}
	return first
}

// queryRow runs a fixed query on the reader pool through the cache.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *rowResult {
	start := time.Now()
	st, err := s.stmts.get(ctx, s.r, query)
	if err != nil {
		return &rowResult{err: err}
	}
	row := st.QueryRowContext(ctx, args...)
	s.observe("read", start, new(error))
	return &rowResult{row: row}
}

// rowResult is a *sql.Row or the error that prevented the query, so that
// callers handle both at Scan as they would with QueryRowContext.
type rowResult struct {
	row *sql.Row
	err error
}

func (r *rowResult) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}

// prepareWrites prepares the hot write statements on the writer pool while
// no transaction holds its one connection.
func (s *Store) prepareWrites(ctx context.Context) error {
	for _, q := range hotWrites {
		if _, err := s.stmts.get(ctx, s.w, q); err != nil {
			return err
		}
	}
	return nil
}

// txStmt returns the writer's prepared statement for query bound to tx. A
// query Open did not prepare is prepared in tx, for this transaction only,
// since preparing on the pool would wait for the connection tx holds.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.stmts.mu.Lock()
	st, ok := s.stmts.stmts[stmtKey{s.w, query}]
	s.stmts.mu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// txExec runs query in tx through txStmt.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txQueryRow runs query in tx through txStmt.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *rowResult {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return &rowResult{err: err}
	}
	return &rowResult{row: st.QueryRowContext(ctx, args...)}
}
