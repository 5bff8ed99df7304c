package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/egress"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/webhook"
)

// TestLocksExcludeAcrossSessions: a lock one process's Locks hold is
// refused to another's; a waiter gets it once it is released; a waiter
// that gives up (its context ends) leaves the holder's locks alone; and
// the locks of a session PostgreSQL ends (a killed replica) are free.
func TestLocksExcludeAcrossSessions(t *testing.T) {
	url := server.Database(t)
	ctx := context.Background()
	a, b := newLocks(t, url), newLocks(t, url)

	unlock, err := a.Lock(ctx, "sbx_1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.TryLock(ctx, "sbx_1"); ok || err != nil {
		t.Fatalf("B took A's lock: %v %v", ok, err)
	}
	unlock2, ok, err := b.TryLock(ctx, "sbx_2")
	if !ok || err != nil {
		t.Fatalf("B refused another sandbox's lock: %v", err)
	}
	gaveUp, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(gaveUp, "sbx_1"); err == nil {
		t.Fatal("B's Lock returned while A held the lock")
	}
	if _, ok, _ := a.TryLock(ctx, "sbx_2"); ok {
		t.Fatal("B lost the lock it held when its wait for another gave up")
	}
	unlock2()
	if _, ok, _ := a.TryLock(ctx, "sbx_1"); !ok {
		// Locks are reentrant within one session: A, which holds it, gets it.
		t.Fatal("A lost its lock")
	}

	got := make(chan func(), 1)
	go func() {
		u, err := b.Lock(ctx, "sbx_1")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	unlock() // A took it twice (TryLock above): release both
	unlockAgain(t, a, "sbx_1")
	(<-got)()

	if _, err := a.Lock(ctx, "sbx_3"); err != nil {
		t.Fatal(err)
	}
	terminateApp(t, url, "hutch sandbox locks", "sbx_3")
	u, ok, err := b.TryLock(ctx, "sbx_3")
	if !ok || err != nil {
		t.Fatalf("the lock of an ended session is still held: %v", err)
	}
	u()
	// A's next call opens a new session; the old release does nothing.
	if u, ok, err := a.TryLock(ctx, "sbx_4"); !ok || err != nil {
		t.Fatalf("A after its session ended: %v %v", ok, err)
	} else {
		u()
	}
}

// TestLocksHolds: Holds tells a lock of this session from one it
// released, one another session holds and one whose session PostgreSQL
// ended under it, which it notices by asking; the lock is then taken
// again on a new session. Keys of either sign are checked (the key is
// split in two oids in pg_locks).
func TestLocksHolds(t *testing.T) {
	url := server.Database(t)
	ctx := context.Background()
	a, b := newLocks(t, url), newLocks(t, url)
	holds := func(l *Locks, name string) bool {
		t.Helper()
		ok, err := l.Holds(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	var names []string // one name of a negative key, one of a positive
	for i := 0; len(names) < 2; i++ {
		name := fmt.Sprintf("sbx_%d", i)
		if (sandboxLockKey(name) < 0) == (len(names) == 0) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if holds(a, name) {
			t.Fatalf("%s held before any lock", name)
		}
		unlock, err := a.Lock(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !holds(a, name) || holds(b, name) {
			t.Fatalf("%s (key %d): A holds it %v, B %v", name, sandboxLockKey(name), holds(a, name), holds(b, name))
		}
		unlock()
		if holds(a, name) {
			t.Fatalf("%s still held after its release", name)
		}
	}

	ub, err := b.Lock(ctx, "sbx_b")
	if err != nil {
		t.Fatal(err)
	}
	defer ub()
	if _, err := a.Lock(ctx, "sbx_a"); err != nil {
		t.Fatal(err)
	}
	terminateApp(t, url, "hutch sandbox locks", "sbx_a")
	if holds(a, "sbx_a") {
		t.Fatal("A holds a lock of the session PostgreSQL ended")
	}
	if !holds(b, "sbx_b") {
		t.Fatal("B lost its lock with A's session")
	}
	u, ok, err := a.TryLock(ctx, "sbx_a")
	if !ok || err != nil || !holds(a, "sbx_a") {
		t.Fatalf("A takes its lock again on a new session: %v %v", ok, err)
	}
	u()
}

func newLocks(t testing.TB, url string) *Locks {
	t.Helper()
	l, err := NewLocks(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// unlockAgain releases one more hold of name on l's session.
func unlockAgain(t *testing.T, l *Locks, name string) {
	t.Helper()
	l.unlock(sandboxLockKey(name), l.gen)
}

// terminateApp ends the session of application app holding name's lock,
// as PostgreSQL does when the process behind it dies, and waits for it
// to be gone.
func terminateApp(t *testing.T, url, app, name string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	key := sandboxLockKey(name)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(a.pid, 10000)) FROM pg_stat_activity a
		JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
			AND (l.classid::bigint << 32 | l.objid::bigint) = $2
		WHERE a.application_name = $1 AND a.datname = current_database()`, app, key).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminated %d sessions holding %s: %v", n, name, err)
	}
}

// TestSharedSecretOneWinner: replicas asking for a secret at once, each
// with its own fresh value, all get one and the same.
func TestSharedSecretOneWinner(t *testing.T) {
	url := server.Database(t)
	const n = 6
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		st := openURL(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := st.SharedSecret(context.Background(), "proxy", []byte(fmt.Sprintf("fresh-%d-0123456789", i)))
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) == 0 || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("replica %d got %q, replica 0 %q", i, got[i], got[0])
		}
	}
	other, err := openURL(t, url).SharedSecret(context.Background(), "other", []byte("x"))
	if err != nil || string(other) != "x" {
		t.Fatalf("another name: %q %v", other, err)
	}
}

// TestExclusiveTakesTurns: functions run under one name on two stores
// never overlap.
func TestExclusiveTakesTurns(t *testing.T) {
	url := server.Database(t)
	var (
		mu      sync.Mutex
		inside  int
		overlap bool
		wg      sync.WaitGroup
	)
	for range 4 {
		st := openURL(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.Exclusive(context.Background(), "bootstrap", func(ctx context.Context) error {
				mu.Lock()
				inside++
				overlap = overlap || inside > 1
				mu.Unlock()
				// A read of the database, so that the others have time to try.
				_, err := st.CountOrganizations(ctx)
				mu.Lock()
				inside--
				mu.Unlock()
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if overlap {
		t.Fatal("two stores ran under one Exclusive name at once")
	}
}

// TestTwoDispatchersSendEachDeliveryOnce runs a webhook dispatcher on
// each of two stores of one database, as a leader and the successor that
// took over before it noticed: every delivery reaches the receiver once.
func TestTwoDispatchersSendEachDeliveryOnce(t *testing.T) {
	url := server.Database(t)
	ctx := context.Background()
	a, b := openURL(t, url), openURL(t, url)

	var mu sync.Mutex
	got := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(webhook.HeaderDelivery)]++
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	org := &auth.Organization{ID: ids.New("org_"), Name: "acme"}
	if err := a.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateWebhook(ctx, &webhook.Webhook{ID: ids.New("wh_"), OrganizationID: org.ID, URL: recv.URL, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		if err := a.CreateSandbox(ctx, benchSandbox(org.ID, fmt.Sprint("sb-", i)), benchEvent); err != nil {
			t.Fatal(err)
		}
	}

	guard, err := egress.New(egress.Policy{Allow: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := webhook.Config{Interval: 5 * time.Millisecond, Backoff: time.Hour, MaxBackoff: time.Hour,
		MaxAttempts: 3, Timeout: 5 * time.Second, Egress: guard}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, st := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			webhook.NewDispatcher(st, cfg, log).Run(dctx)
		}()
	}
	poll.Until(t, "every delivery done", func() bool {
		due, err := a.DueDeliveries(ctx, time.Now().Add(24*time.Hour), n)
		return err == nil && len(due) == 0
	})
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("%d deliveries received, want %d", len(got), n)
	}
	for id, times := range got {
		if times != 1 {
			t.Fatalf("delivery %s sent %d times", id, times)
		}
	}
}

// BenchmarkLocksLockUnlock is what the replicas' sandbox lock adds to
// each transition: a lock and its release on the process's connection.
func BenchmarkLocksLockUnlock(b *testing.B) {
	l := newLocks(b, server.Database(b))
	ctx := context.Background()
	for b.Loop() {
		unlock, err := l.Lock(ctx, "sbx_bench")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}
