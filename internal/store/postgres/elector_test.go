package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/poll"
)

// candidate is one elector running in the test, with what its leads saw.
type candidate struct {
	e      *Elector
	terms  atomic.Int64 // leads started
	ended  atomic.Int64 // leads whose context ended
	cancel context.CancelFunc
	done   chan struct{}
}

func runCandidate(t *testing.T, url string) *candidate {
	t.Helper()
	e, err := NewElector(url, "reconciler", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{e: e, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		e.Run(ctx, func(ctx context.Context) {
			c.terms.Add(1)
			<-ctx.Done()
			c.ended.Add(1)
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

// lockHolders returns the backends holding the reconciler's advisory
// lock, as PostgreSQL sees them.
func lockHolders(t *testing.T, conn *pgx.Conn) []int32 {
	t.Helper()
	key := uint64(lockKey("reconciler"))
	rows, _ := conn.Query(context.Background(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1`,
		int64(key>>32), int64(key&0xffffffff))
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// TestElectorOneLeaderAndTakeover runs two electors for one role: exactly
// one leads and holds the lock; when its connection dies (its backend
// terminated, as when its process or network dies), the other takes over
// and the first's lead is ended.
func TestElectorOneLeaderAndTakeover(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	a, b := runCandidate(t, url), runCandidate(t, url)
	poll.Until(t, "a leader", func() bool { return a.e.Leading() || b.e.Leading() })
	first, second := a, b
	if b.e.Leading() {
		first, second = b, a
	}
	// The other has had several tries by the time the lock is checked;
	// PostgreSQL shows one holder, and a third try is refused.
	time.Sleep(5 * first.e.interval)
	if second.e.Leading() || second.terms.Load() != 0 {
		t.Fatal("both electors lead")
	}
	holders := lockHolders(t, admin)
	if len(holders) != 1 {
		t.Fatalf("lock holders %v, want one", holders)
	}
	var got bool
	if err := admin.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey("reconciler")).Scan(&got); err != nil || got {
		t.Fatalf("a third session took the leader's lock: %v %v", got, err)
	}

	// The leader's connection dies.
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, holders[0]); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the other elector to take over", func() bool { return second.e.Leading() })
	poll.Until(t, "the old leader's lead to end", func() bool { return first.ended.Load() == 1 })
	if now := lockHolders(t, admin); len(now) != 1 || now[0] == holders[0] {
		t.Fatalf("lock holders after the takeover %v, want one new one (old %d)", now, holders[0])
	}
	// The old leader campaigns again but does not win while the new
	// one holds the lock.
	time.Sleep(5 * first.e.interval)
	if first.e.Leading() || first.terms.Load() != 1 {
		t.Fatalf("the old leader leads again (terms %d) while the new one holds the lock", first.terms.Load())
	}

	// The new leader stops (its process shuts down): the lock is given
	// back and the old one leads again.
	second.cancel()
	<-second.done
	poll.Until(t, "the first elector to lead again", func() bool { return first.e.Leading() })
	if second.ended.Load() != 1 {
		t.Fatalf("the stopped leader's lead did not end (%d)", second.ended.Load())
	}
}

// TestElectorLeadReturning checks that a lead returning on its own gives
// the lock up (another elector can win) without stopping the campaign.
func TestElectorLeadReturning(t *testing.T) {
	url := server.Database(t)
	e, err := NewElector(url, "reconciler", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var terms atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.Run(ctx, func(context.Context) { terms.Add(1) })
	}()
	poll.Until(t, "three terms", func() bool { return terms.Load() >= 3 })
	cancel()
	wg.Wait()
	if e.Leading() {
		t.Fatal("Leading after Run returned")
	}
}
