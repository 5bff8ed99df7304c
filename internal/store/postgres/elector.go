package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Elector chooses one leader for a role (the reconciler) among the
// processes sharing a database, through a PostgreSQL session advisory
// lock: the leader is the process whose dedicated connection holds the
// lock, for as long as that connection lives. When the leader's
// connection dies (the process killed, the network cut, the backend
// terminated), PostgreSQL ends the session and releases the lock, and
// another process's next try takes it; the old leader's own check of its
// connection fails within one interval and it steps down.
//
// Between the lock's release and the old leader's failed check, two
// processes may both believe they lead, for at most one interval. What a
// leader writes must therefore still be safe to write twice: the store's
// version compare-and-set refuses the stale one of two concurrent
// transitions.
type Elector struct {
	cfg      *pgx.ConnConfig
	key      int64
	interval time.Duration
	leading  atomic.Bool
}

// NewElector returns an elector for the role name on the database rawURL
// names, trying for the lock and checking a held one every interval.
func NewElector(rawURL, name string, interval time.Duration) (*Elector, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("elector %s: %s: %w", name, Redact(rawURL), err)
	}
	if interval <= 0 {
		return nil, fmt.Errorf("elector %s: interval %v must be positive", name, interval)
	}
	cfg.RuntimeParams["application_name"] = "hutch elector " + name
	return &Elector{cfg: cfg, key: lockKey(name), interval: interval}, nil
}

// lockKey is the advisory lock key of a role: a hash of its name in a
// space apart from migrationLock's.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hutch elector " + name))
	return int64(h.Sum64())
}

// Leading reports whether this elector holds the lock now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run campaigns until ctx ends. Each time it wins, it calls lead with a
// context that ends when leadership is lost (or ctx ends), and waits for
// lead to return before campaigning again, so that one process never
// runs two leads. If lead returns on its own, the lock is given up.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) {
	for ctx.Err() == nil {
		e.campaign(ctx, lead)
		select {
		case <-ctx.Done():
		case <-time.After(e.interval):
		}
	}
}

// campaign opens a dedicated connection and tries for the lock every
// interval until it wins, and then leads; any error on the connection
// ends the campaign, and Run starts another on a new connection. Closing
// the connection releases the lock.
func (e *Elector) campaign(ctx context.Context, lead func(context.Context)) {
	conn, err := pgx.ConnectConfig(ctx, e.cfg)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	tick := time.NewTicker(e.interval)
	defer tick.Stop()
	for {
		var won bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, e.key).Scan(&won); err != nil {
			return
		}
		if won {
			e.lead(ctx, conn, lead)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// lead runs lead while conn, which holds the lock, answers its checks.
func (e *Elector) lead(ctx context.Context, conn *pgx.Conn, lead func(context.Context)) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	e.leading.Store(true)
	defer e.leading.Store(false)
	go func() {
		defer close(done)
		lead(lctx)
	}()
	tick := time.NewTicker(e.interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			<-done
			return
		case <-tick.C:
			pctx, stop := context.WithTimeout(ctx, e.interval)
			err := conn.Ping(pctx)
			stop()
			if err != nil {
				cancel()
				<-done
				return
			}
		}
	}
}
