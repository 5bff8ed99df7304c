package sandbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// sharedLocks is the lock table replicas share, as PostgreSQL's advisory
// locks are: each replica holds its locks through a lockSession, a
// session's locks are reentrant, and they all go when it ends (the
// replica dies) or is lost (its connection broke; the next call opens a
// new one).
type sharedLocks struct {
	mu     sync.Mutex
	holder map[string]*lockSession
	depth  map[string]int
}

func newSharedLocks() *sharedLocks {
	return &sharedLocks{holder: map[string]*lockSession{}, depth: map[string]int{}}
}

func (l *sharedLocks) holderOf(key string) *lockSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder[key]
}

type lockSession struct {
	l     *sharedLocks
	ended bool
	gen   int // bumped when the session is lost and a new one opens
}

var _ sandbox.SharedLocker = (*lockSession)(nil)

func (l *sharedLocks) session() *lockSession { return &lockSession{l: l} }

func (s *lockSession) TryLock(ctx context.Context, key string) (func(), bool, error) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.ended {
		return nil, false, errors.New("lock session ended")
	}
	if h := l.holder[key]; h != nil && h != s {
		return nil, false, nil
	}
	l.holder[key] = s
	l.depth[key]++
	var once sync.Once
	gen := s.gen
	return func() { once.Do(func() { s.release(key, gen) }) }, true, nil
}

func (s *lockSession) Holds(ctx context.Context, key string) (bool, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.l.holder[key] == s, nil
}

func (s *lockSession) Lock(ctx context.Context, key string) (func(), error) {
	for {
		unlock, ok, err := s.TryLock(ctx, key)
		if err != nil || ok {
			return unlock, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (s *lockSession) release(key string, gen int) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder[key] != s || s.gen != gen { // the session ended since
		return
	}
	if l.depth[key]--; l.depth[key] == 0 {
		delete(l.holder, key)
		delete(l.depth, key)
	}
}

// end drops every lock of the session, as PostgreSQL does when the
// replica behind it dies.
func (s *lockSession) end() {
	s.lose()
	s.l.mu.Lock()
	s.ended = true
	s.l.mu.Unlock()
}

// lose drops every lock of the session, as PostgreSQL does when the
// replica's connection breaks; the replica lives on, with a new session.
func (s *lockSession) lose() {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	s.gen++
	for k, h := range l.holder {
		if h == s {
			delete(l.holder, k)
			delete(l.depth, k)
		}
	}
}

// replicaDriver is one replica's view of the driver the replicas share:
// it fails every pool call once the replica is dead, and fails the test
// when the replica prepares, takes or drops a member whose lock it does
// not hold.
type replicaDriver struct {
	*fakeruntime.Pooling
	t       *testing.T
	session *lockSession
	dead    atomic.Bool
}

var errDead = errors.New("this replica is dead")

func (d *replicaDriver) owned(op string, p runtime.PoolSpec) error {
	if d.dead.Load() {
		return errDead
	}
	if h := d.session.l.holderOf("pool " + p.ID); h != d.session {
		d.t.Errorf("%s of %s by a replica that does not hold its lock", op, p.ID)
	}
	return nil
}

func (d *replicaDriver) Prepare(ctx context.Context, p runtime.PoolSpec) error {
	if err := d.owned("prepare", p); err != nil {
		return err
	}
	return d.Pooling.Prepare(ctx, p)
}

func (d *replicaDriver) Take(ctx context.Context, p runtime.PoolSpec, spec runtime.Spec) error {
	if err := d.owned("take", p); err != nil {
		return err
	}
	return d.Pooling.Take(ctx, p, spec)
}

func (d *replicaDriver) DropPrepared(ctx context.Context, p runtime.PoolSpec) error {
	if err := d.owned("drop", p); err != nil {
		return err
	}
	return d.Pooling.DropPrepared(ctx, p)
}

func (d *replicaDriver) Prepared(ctx context.Context) ([]runtime.PoolSpec, error) {
	if d.dead.Load() {
		return nil, errDead
	}
	return d.Pooling.Prepared(ctx)
}

// poolReplica is one server of several sharing a driver and a lock
// table, with a pool of size 2 of "base" (no image store, as under kube).
type poolReplica struct {
	t       *testing.T
	rt      *replicaDriver
	session *lockSession
	svc     *sandbox.Service
	closed  bool
}

func startPoolReplica(t *testing.T, rt *fakeruntime.Pooling, locks *sharedLocks) *poolReplica {
	t.Helper()
	r := &poolReplica{t: t, session: locks.session()}
	r.rt = &replicaDriver{Pooling: rt, t: t, session: r.session}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sandbox.DefaultConfig()
	cfg.Pools = sandbox.PoolConfig{DefaultSize: 2}
	r.svc, err = sandbox.NewService(cfg, st, r.rt, sandbox.WithSharedLocker(r.session),
		sandbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	r.svc.StartPools(context.Background())
	t.Cleanup(func() {
		r.close()
		st.Close()
	})
	return r
}

func (r *poolReplica) close() {
	if !r.closed {
		r.closed = true
		r.svc.Close()
	}
}

// die ends the replica without its dropping anything: its driver calls
// fail and its locks go.
func (r *poolReplica) die() {
	r.rt.dead.Store(true)
	r.session.end()
	r.close()
}

func (r *poolReplica) ready() int {
	ps := r.svc.Pools(context.Background())
	if len(ps) != 1 {
		r.t.Fatalf("pools %+v, want base's", ps)
	}
	return ps[0].Ready
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *poolReplica) create() *sandbox.Sandbox {
	r.t.Helper()
	sb, err := r.svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: org, Wait: true})
	if err != nil {
		r.t.Error(err)
		return nil
	}
	return sb
}

// owners splits the prepared members by the session holding their lock.
func owners(t *testing.T, rt *fakeruntime.Pooling, locks *sharedLocks) map[*lockSession][]string {
	t.Helper()
	ps, err := rt.Prepared(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[*lockSession][]string{}
	for _, p := range ps {
		h := locks.holderOf("pool " + p.ID)
		out[h] = append(out[h], p.ID)
	}
	return out
}

func callsLike(rt *fakeruntime.Pooling, prefix string) []string {
	var out []string
	for _, c := range rt.CallsSoFar() {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// Replicas on one driver each own their members: a replica neither
// adopts nor drops another live replica's, takes only its own, and takes
// in what a replica that died left (up to its pool's size, dropping the
// surplus) on its next pass, without a restart. No member is taken twice.
func TestPoolReplicasOwnTheirMembers(t *testing.T) {
	rt := fakeruntime.NewPooling()
	locks := newSharedLocks()
	a := startPoolReplica(t, rt, locks)
	waitFor(t, "A's pool full", func() bool { return a.ready() == 2 })
	b := startPoolReplica(t, rt, locks)
	waitFor(t, "B's pool full", func() bool { return b.ready() == 2 })
	if own := owners(t, rt, locks); len(own[a.session]) != 2 || len(own[b.session]) != 2 || len(own) != 2 {
		t.Fatalf("members by owner %v, want two of A's and two of B's", own)
	}

	// Creates on both at once: each takes its own members, and each
	// refills (B's passes seeing A's members) without touching the other's.
	var wg sync.WaitGroup
	for _, r := range []*poolReplica{a, b, a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.create()
		}()
	}
	wg.Wait()
	waitFor(t, "both pools refilled", func() bool {
		own := owners(t, rt, locks)
		return a.ready() == 2 && b.ready() == 2 && len(own[a.session]) == 2 && len(own[b.session]) == 2
	})
	if drops := callsLike(rt, "drop "); len(drops) != 0 {
		t.Fatalf("members dropped while both replicas live: %v", drops)
	}

	left := owners(t, rt, locks)[a.session]
	a.die()
	prepares := len(callsLike(rt, "prepare "))
	sb := b.create() // B takes one of its own, then refills from what A left
	if sb == nil {
		t.FailNow()
	}
	if from, ok := rt.TakenFrom(sb.ID); !ok || slices.Contains(left, from.ID) {
		t.Fatalf("B's create taken from %+v (%v); A left %v", from, ok, left)
	}
	waitFor(t, "B took in what A left", func() bool {
		ps, _ := rt.Prepared(context.Background())
		return b.ready() == 2 && len(ps) == 2
	})
	own := owners(t, rt, locks)
	var adopted []string
	for _, id := range own[b.session] {
		if slices.Contains(left, id) {
			adopted = append(adopted, id)
		}
	}
	if len(own) != 1 || len(own[b.session]) != 2 || len(adopted) != 1 {
		t.Fatalf("members by owner %v, want B's two, one of them from A's %v", own, left)
	}
	if n := len(callsLike(rt, "prepare ")); n != prepares {
		t.Fatalf("B prepared %d members instead of taking in A's", n-prepares)
	}
	var dropped []string
	for _, id := range left {
		if id != adopted[0] {
			dropped = append(dropped, "drop "+id)
		}
	}
	if drops := callsLike(rt, "drop "); !slices.Equal(drops, dropped) {
		t.Fatalf("drops %v, want the surplus of A's: %v", drops, dropped)
	}

	takenOnce(t, rt)
}

// A replica whose lock session was lost (a broken connection) while it
// lives on no longer owns its members: it takes or drops one only after
// owning it again, and lets go those another replica adopted or dropped
// meanwhile. Every driver call on a member is checked against its lock
// (replicaDriver), and at the end every prepared member is owned by a
// live replica, each replica two, none taken twice.
func TestPoolReplicaLosingItsLockSession(t *testing.T) {
	rt := fakeruntime.NewPooling()
	locks := newSharedLocks()
	a := startPoolReplica(t, rt, locks)
	waitFor(t, "A's pool full", func() bool { return a.ready() == 2 })

	// Alone: A owns its members again (no one took them) and takes one.
	a.session.lose()
	sb := a.create()
	if sb == nil {
		t.FailNow()
	}
	if _, ok := rt.TakenFrom(sb.ID); !ok {
		t.Fatal("A booted cold although it could own its members again")
	}
	fullyOwned := func(want map[*lockSession]int) func() bool {
		return func() bool {
			own := owners(t, rt, locks)
			for r, n := range want {
				if len(own[r]) != n {
					return false
				}
			}
			return len(own) == len(want)
		}
	}
	waitFor(t, "A owns two members", fullyOwned(map[*lockSession]int{a.session: 2}))

	// With B: B's pass takes in or drops what A's lost session let go,
	// and A's next create and pass do not touch what B took in.
	b := startPoolReplica(t, rt, locks)
	waitFor(t, "B's pool full", func() bool { return b.ready() == 2 })
	a.session.lose()
	b.create() // B's pass follows the create's end
	waitFor(t, "no member unowned", func() bool { return len(owners(t, rt, locks)[nil]) == 0 })
	a.create()
	waitFor(t, "each replica owns two members",
		fullyOwned(map[*lockSession]int{a.session: 2, b.session: 2}))
	waitFor(t, "both pools count two", func() bool { return a.ready() == 2 && b.ready() == 2 })

	takenOnce(t, rt)
}

// takenOnce fails the test for a member taken more than once.
func takenOnce(t *testing.T, rt *fakeruntime.Pooling) {
	t.Helper()
	taken := map[string]int{}
	for _, c := range callsLike(rt, "take ") {
		taken[strings.Fields(c)[1]]++
	}
	for id, n := range taken {
		if n > 1 {
			t.Errorf("member %s taken %d times", id, n)
		}
	}
}
