// Package sqlite is the embedded Store: one database file beside the
// binary's other state, no server to run. It uses modernc.org/sqlite (pure
// Go, no cgo) so that hutch stays one static binary.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/hutchdev/hutch/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store keeps Hutch's state in one SQLite file in WAL mode.
//
// It holds two pools on the same file. The writer pool has exactly one
// connection, so writes queue in Go rather than spinning in SQLite's busy
// handler, and every transaction on it begins IMMEDIATE, so that a
// read-then-write transaction takes the write lock up front and can never
// fail half-way with SQLITE_BUSY when another process (a second hutch, the
// sqlite3 shell) writes too; the busy timeout covers that case. The reader
// pool has several query-only connections that WAL lets run beside the
// writer without blocking it.
type Store struct {
	w     *sql.DB // one connection, BEGIN IMMEDIATE
	r     *sql.DB // several query-only connections
	stmts stmtCache
	// observer, when set, times every transaction and point read.
	observer func(op string, d time.Duration, err error)
}

// busyTimeout is how long a connection waits for another process's lock
// before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Open opens or creates the database at path and brings its schema up to
// date. The directory must exist: creating it here would hide a mistyped
// path until the data went missing.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open store: %q is not a database file path", path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open store %s: directory %s: %w", path, dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open store %s: %s is not a directory", path, dir)
	}

	s := &Store{}
	// synchronous=FULL syncs the WAL on every commit: a state change is
	// acknowledged only once it would survive a power cut, not just a crash
	// of hutch (NORMAL would save about 0.3 ms a write on this machine's
	// disk and lose the last commits on power loss). case_sensitive_like
	// makes the name-prefix filter compare names the way the unique index
	// does (and the way PostgreSQL's LIKE does), and lets it use that index.
	base := path + "?_pragma=busy_timeout(" + fmt.Sprint(busyTimeout.Milliseconds()) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=case_sensitive_like(1)"

	w, err := sql.Open("sqlite", base+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s.w = w
	// The writer connects first: it switches the file to WAL, which the
	// readers' connections then find already set.
	ms, err := migrations()
	if err == nil {
		err = migrate(ctx, w, ms)
	}
	if err == nil {
		err = s.prepareWrites(ctx)
	}
	if err != nil {
		s.stmts.close()
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		s.stmts.close()
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Close closes both pools. The writer closes last so that SQLite
// checkpoints the WAL into the main file when its final connection goes.
func (s *Store) Close() error {
	return errors.Join(s.stmts.close(), s.r.Close(), s.w.Close())
}

// write runs fn in an IMMEDIATE transaction on the writer connection and
// commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	defer s.observe("write", time.Now(), &err)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a read transaction, so that several queries (a count and
// a page) see one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	defer s.observe("read", time.Now(), &err)
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}
