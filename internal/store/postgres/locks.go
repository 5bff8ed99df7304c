package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/sandbox"
)

var _ sandbox.SharedLocker = (*Locks)(nil)

// Locks are the per-sandbox locks the replicas of one database share:
// PostgreSQL session advisory locks, all held by one dedicated connection
// of this process. A lock lives as long as that session, so the locks of
// a replica that dies (SIGKILL, a lost network) are released by the
// server when it ends the session, and another replica can then take them
// and settle what the dead one left half done.
//
// The connection runs one statement at a time, so waiting is a try
// repeated with a short backoff, never a blocking pg_advisory_lock that
// would hold the connection. When the connection breaks, every lock it
// held is gone with it: the next call opens a new one, and the releases
// of the old locks do nothing. The sandbox version check in UpdateSandbox
// stays the backstop for that window.
type Locks struct {
	cfg *pgx.ConnConfig

	mu   sync.Mutex // one statement at a time on conn
	conn *pgx.Conn
	gen  int // bumped with each new connection
}

// Lock waiting: the first retry after lockPollMin, doubling to lockPollMax.
const (
	lockPollMin = 10 * time.Millisecond
	lockPollMax = 200 * time.Millisecond
	// statementTimeout bounds one lock statement on a database that stopped
	// answering.
	statementTimeout = 10 * time.Second
)

// NewLocks returns the locks of the database rawURL names; the
// connection opens on first use.
func NewLocks(rawURL string) (*Locks, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sandbox locks: %s: %w", Redact(rawURL), err)
	}
	cfg.RuntimeParams["application_name"] = "hutch sandbox locks"
	return &Locks{cfg: cfg}, nil
}

// sandboxLockKey is the advisory lock key of a sandbox (or of any other
// name the lifecycle locks): a hash of it, in a space apart from the
// elector's and migrationLock's. Two names that share a key only take
// turns.
func sandboxLockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hutch sandbox " + name))
	return int64(h.Sum64())
}

// Lock implements sandbox.SharedLocker.
func (l *Locks) Lock(ctx context.Context, name string) (func(), error) {
	wait := lockPollMin
	for {
		unlock, ok, err := l.TryLock(ctx, name)
		if err != nil || ok {
			return unlock, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, lockPollMax)
	}
}

// TryLock implements sandbox.SharedLocker.
func (l *Locks) TryLock(ctx context.Context, name string) (func(), bool, error) {
	key := sandboxLockKey(name)
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	// The statement does not run under the caller's cancellation: pgx
	// closes a connection whose statement is cancelled, and with it every
	// lock this process holds for other transitions.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statementTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	var won bool
	for retried := false; ; retried = true {
		conn, opened, err := l.connLocked(qctx)
		if err != nil {
			return nil, false, err
		}
		err = conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&won)
		if err == nil {
			break
		}
		l.dropLocked()
		// A session that ended since the last call (the server restarted,
		// an idle connection cut) shows only now: try once on a new one.
		if opened || retried {
			return nil, false, fmt.Errorf("sandbox lock %s: %w", name, err)
		}
	}
	if !won {
		return nil, false, nil
	}
	gen := l.gen
	var once sync.Once
	return func() { once.Do(func() { l.unlock(key, gen) }) }, true, nil
}

// Holds implements sandbox.SharedLocker. It asks the server, so a
// session that ended unnoticed (the server restarted, the connection was
// cut) shows here as locks no longer held. A statement that fails ends
// the session too (dropLocked), so false is then the truth as well.
func (l *Locks) Holds(ctx context.Context, name string) (bool, error) {
	key := sandboxLockKey(name)
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statementTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.conn.IsClosed() {
		return false, nil
	}
	var held bool
	err := l.conn.QueryRow(qctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND pid = pg_backend_pid()
			AND (classid::bigint << 32 | objid::bigint) = $1)`, key).Scan(&held)
	if err != nil {
		l.dropLocked()
		return false, nil
	}
	return held, nil
}

// unlock releases key if the session that took it is still the one open;
// a lock of an earlier session went with it.
func (l *Locks) unlock(key int64, gen int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.gen != gen {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), statementTimeout)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
		l.dropLocked()
	}
}

// connLocked returns the open connection, opening one if there is none
// (opened).
func (l *Locks) connLocked(ctx context.Context) (conn *pgx.Conn, opened bool, err error) {
	if l.conn != nil && !l.conn.IsClosed() {
		return l.conn, false, nil
	}
	l.dropLocked()
	conn, err = pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, false, fmt.Errorf("sandbox locks: connect: %w", err)
	}
	l.conn = conn
	l.gen++
	return conn, true, nil
}

// dropLocked closes the connection after an error on it, which ends the
// session and every lock it held (a statement cancelled by its context
// leaves the session's state unknown, so it goes too).
func (l *Locks) dropLocked() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = l.conn.Close(ctx)
	l.conn = nil
}

// Close ends the session, releasing every lock still held.
func (l *Locks) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropLocked()
}
