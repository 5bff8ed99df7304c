// Package replicatest holds the lifecycle tests of replicas: two
// sandbox.Services on one PostgreSQL database (pgtest), as two `hutch
// serve` processes are, sharing one fake runtime (as replicas share a
// cluster's).
package replicatest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/postgres"
	"github.com/hutchdev/hutch/internal/store/postgres/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &server)) }

const org = "org_test"

// replica is one server's lifecycle: its own store (pool), its own
// sandbox locks (session), its own service, on the shared database.
type replica struct {
	st    *postgres.Store
	locks *postgres.Locks
	svc   *sandbox.Service
	// refused hears the key of each lock this replica had to wait for.
	refused chan string
}

// cluster is a database and a runtime that replicas share.
type cluster struct {
	t   *testing.T
	url string
	rt  *fakeruntime.Fake
	// clk, when set, is every replica's clock, and a minute of the
	// automation's lasts a second.
	clk *clock
	// quota, when set, is every organisation's quota.
	quota *sandbox.Quota
}

// clock is a fake clock the replicas share.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, url: server.Database(t), rt: fakeruntime.New()}
	st := c.store()
	if err := st.CreateOrganization(context.Background(), &auth.Organization{ID: org, Name: "test", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) store() *postgres.Store {
	c.t.Helper()
	st, err := postgres.Open(context.Background(), c.url)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { st.Close() })
	return st
}

// replica starts one more server on the cluster.
func (c *cluster) replica() *replica {
	t := c.t
	t.Helper()
	r := &replica{st: c.store(), refused: make(chan string, 16)}
	var err error
	if r.locks, err = postgres.NewLocks(c.url); err != nil {
		t.Fatal(err)
	}
	cfg := sandbox.DefaultConfig()
	cfg.Automation.Interval = time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []sandbox.Option{sandbox.WithLogger(log), sandbox.WithSharedLocker(&watched{SharedLocker: r.locks, refused: r.refused})}
	if c.quota != nil {
		cfg.DefaultQuota = *c.quota
	}
	if c.clk != nil {
		cfg.Automation.Minute = time.Second
		opts = append(opts, sandbox.WithClock(c.clk.Now))
	}
	r.svc, err = sandbox.NewService(cfg, r.st, c.rt, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.svc.Close()
		r.locks.Close()
	})
	return r
}

// watched tells of every lock it had to wait for, so that a test knows
// a replica is waiting on another's transition before it lets that end.
type watched struct {
	sandbox.SharedLocker
	refused chan string
}

func (w *watched) Lock(ctx context.Context, key string) (func(), error) {
	if unlock, ok, err := w.SharedLocker.TryLock(ctx, key); err != nil || ok {
		return unlock, err
	}
	select {
	case w.refused <- key:
	default:
	}
	return w.SharedLocker.Lock(ctx, key)
}

func (r *replica) create(t *testing.T, name string, wait bool) *sandbox.Sandbox {
	t.Helper()
	sb, err := r.svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: org, Name: name, Wait: wait})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func (r *replica) get(t *testing.T, id string) *sandbox.Sandbox {
	t.Helper()
	sb, err := r.st.GetSandboxByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func states(t *testing.T, st *postgres.Store, id string) []sandbox.State {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []sandbox.State
	for _, e := range evs {
		if e.Type == sandbox.EventState {
			out = append(out, e.To)
		}
	}
	return out
}

// TestDeleteWaitsForAnotherReplicasCreate: a delete through replica B of
// a sandbox replica A is still booting waits for A's boot, as it would
// in one process, and then deletes what the boot made. Without the
// shared lock, B deletes the record at once, A's boot then creates the
// sandbox in the runtime and its write fails: a sandbox left running
// that no record holds.
func TestDeleteWaitsForAnotherReplicasCreate(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	release := c.rt.BlockCreate()
	t.Cleanup(release)
	sb := a.create(t, "web", false) // A's boot holds the sandbox, blocked in the runtime

	deleted := make(chan error, 1)
	go func() {
		_, err := b.svc.Act(context.Background(), org, sb.ID, sandbox.ActionDelete, sandbox.ActOptions{Wait: true})
		deleted <- err
	}()
	select {
	case key := <-b.refused:
		if key != sb.ID {
			t.Fatalf("B waited for lock %q, want the sandbox's", key)
		}
	case err := <-deleted:
		t.Fatalf("B's delete ran while A's create held the sandbox (err %v)", err)
	}
	release()
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	a.svc.Close() // A's boot has settled
	if got := b.get(t, sb.ID).State; got != sandbox.StateDeleted {
		t.Fatalf("state %s, want deleted", got)
	}
	if got := c.rt.State(sb.ID); got != runtime.StateMissing {
		t.Fatalf("the runtime holds the deleted sandbox: %s", got)
	}
	want := []sandbox.State{sandbox.StateCreating, sandbox.StateRunning, sandbox.StateDeleting, sandbox.StateDeleted}
	if got := states(t, b.st, sb.ID); !equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
}

func equal(a, b []sandbox.State) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOwnerGoneTransitionSettled: a replica killed mid-pause leaves the
// sandbox pausing. While its session lives, the leader's reconciler
// leaves the sandbox to it; once PostgreSQL ends the session (as it
// does for a killed process), its lock is free and the next pass
// finishes the pause from what the runtime observes, without waiting
// for StaleAfter.
func TestOwnerGoneTransitionSettled(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	ctx := context.Background()
	sb := a.create(t, "web", true)

	// A begins a pause: it takes the lock and records pausing, and dies
	// before the runtime paused anything.
	if _, err := a.locks.Lock(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	fresh := a.get(t, sb.ID)
	fresh.State, fresh.DesiredState, fresh.UpdatedAt = sandbox.StatePausing, sandbox.StatePaused, time.Now().UTC()
	if err := a.st.UpdateSandbox(ctx, fresh, sandbox.Event{Type: sandbox.EventState, From: sandbox.StateRunning, To: sandbox.StatePausing, Cause: sandbox.CauseUser}); err != nil {
		t.Fatal(err)
	}

	rec := b.svc.NewReconciler()
	rec.Pass(ctx)
	rec.Wait()
	if got := b.get(t, sb.ID).State; got != sandbox.StatePausing {
		t.Fatalf("the leader settled a transition whose owner lives: %s", got)
	}

	terminate(t, c.url, "hutch sandbox locks")
	rec.Pass(ctx)
	rec.Wait()
	if got := b.get(t, sb.ID); got.State != sandbox.StatePaused {
		t.Fatalf("after the owner died: %s (%s), want paused", got.State, got.StateReason)
	}
	if got := c.rt.State(sb.ID); got != runtime.StatePaused {
		t.Fatalf("runtime %s, want paused", got)
	}
}

// terminate ends the one session of application app that holds an
// advisory lock, as PostgreSQL does when the process behind it is killed.
func terminate(t *testing.T, url, app string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(a.pid, 10000)) FROM pg_stat_activity a
		WHERE a.application_name = $1 AND a.datname = current_database()
		AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory')`, app).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminated %d lock sessions (%v), want the one holding the lock", n, err)
	}
}

// TestRecoverLeavesAnotherReplicasTransition: a replica starting while
// another pauses a sandbox (the runtime paused, the record not yet
// written) leaves that sandbox to the replica doing it, without waiting
// for it. Settling it from the record (running, with the runtime now
// paused) would resume what the other replica paused; waiting for it
// would hold the start behind a transition of up to TransitionTimeout.
func TestRecoverLeavesAnotherReplicasTransition(t *testing.T) {
	c := newCluster(t)
	a := c.replica()
	ctx := context.Background()
	sb := a.create(t, "web", true)
	unlock, err := a.locks.Lock(ctx, sb.ID) // A's pause is under way
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	c.rt.Set(sb.ID, runtime.StatePaused) // its runtime half is done

	b := c.replica()
	recovered := make(chan error, 1)
	go func() {
		_, err := b.svc.Recover(ctx)
		recovered <- err
	}()
	select {
	case err := <-recovered:
		if err != nil {
			t.Fatal(err)
		}
	case <-b.refused:
		t.Fatal("B's start waits for A's transition")
	}
	if got := c.rt.State(sb.ID); got != runtime.StatePaused {
		t.Fatalf("runtime %s after B's recovery, want paused (A paused it)", got)
	}
	if got := b.get(t, sb.ID).State; got != sandbox.StateRunning {
		t.Fatalf("B settled A's sandbox to %s, want it left as A has it", got)
	}
}

// TestBusHearsOtherReplicas: a subscriber on replica B sees the
// transitions made through replica A, each once; a subscriber on A sees
// its own replica's once (A's own notifications are left out).
func TestBusHearsOtherReplicas(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, r := range []*replica{a, b} {
		go r.st.Listen(ctx, r.svc.Remote)
	}
	for !a.st.Listening() || !b.st.Listening() {
		time.Sleep(10 * time.Millisecond)
	}
	onA, stopA := a.svc.Bus().Subscribe(org, 64)
	defer stopA()
	onB, stopB := b.svc.Bus().Subscribe(org, 64)
	defer stopB()

	sb := a.create(t, "web", true)
	if _, err := a.svc.Act(ctx, org, sb.ID, sandbox.ActionPause, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	want := []sandbox.State{sandbox.StateCreating, sandbox.StateRunning, sandbox.StatePausing, sandbox.StatePaused}
	got := hear(t, onB, sb.ID, len(want))
	for i, n := range got {
		if n.Event.To != want[i] || n.OrganizationID != org || n.SandboxName != "web" || n.Event.ID == 0 || n.Event.Cause != sandbox.CauseUser {
			t.Fatalf("B heard %+v as notice %d, want a move to %s of web", n, i, want[i])
		}
	}
	if got[3].State != sandbox.StatePaused {
		t.Fatalf("B's last notice has state %s", got[3].State)
	}

	// A marker from B: once A hears it, any notice of A's own writes
	// coming back through the database would have come before it.
	marker := b.create(t, "marker", true)
	var own []sandbox.State
	for _, n := range until(t, onA, marker.ID, sandbox.StateRunning) {
		if n.Event.SandboxID == sb.ID {
			own = append(own, n.Event.To)
		}
	}
	if !equal(own, want) {
		t.Fatalf("A heard its own transitions as %v, want each once: %v", own, want)
	}
}

// hear returns the next n notices of sandbox id.
func hear(t *testing.T, ch <-chan sandbox.Notice, id string, n int) []sandbox.Notice {
	t.Helper()
	var out []sandbox.Notice
	for len(out) < n {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatal("the subscription was dropped")
			}
			if got.Event.SandboxID == id {
				out = append(out, got)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("heard %d notices of %s, want %d: %+v", len(out), id, n, out)
		}
	}
	return out
}

// until returns every notice up to and with the one moving sandbox id to
// state.
func until(t *testing.T, ch <-chan sandbox.Notice, id string, state sandbox.State) []sandbox.Notice {
	t.Helper()
	var out []sandbox.Notice
	for {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatal("the subscription was dropped")
			}
			out = append(out, got)
			if got.Event.SandboxID == id && got.Event.To == state {
				return out
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("never heard %s move to %s; heard %+v", id, state, out)
		}
	}
}

// TestConnectionOnAnotherReplicaSparesSandbox: a terminal open through
// replica B keeps an idle sandbox from the auto-stop of the leader A,
// which sees only its own connections, as long as B records the
// activity (TouchHeld, every interval in the server); once B's
// connection closes, A stops the sandbox.
func TestConnectionOnAnotherReplicaSparesSandbox(t *testing.T) {
	c := newCluster(t)
	c.clk = &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	a, b := c.replica(), c.replica()
	ctx := context.Background()
	three := 3
	sb, err := a.svc.Create(ctx, sandbox.CreateRequest{OrganizationID: org, Name: "terminal", Wait: true, AutoStopMinutes: &three})
	if err != nil {
		t.Fatal(err)
	}
	rec := a.svc.NewReconciler()
	passes := func() {
		for range 8 {
			rec.Pass(ctx)
			rec.Wait()
			if err := b.svc.TouchHeld(ctx); err != nil {
				t.Fatal(err)
			}
			c.clk.Advance(time.Second)
			c.rt.AddCPU(sb.ID, time.Millisecond)
		}
	}
	release := b.svc.Hold(sb.ID)
	passes()
	if got := a.get(t, sb.ID).State; got != sandbox.StateRunning {
		t.Fatalf("sandbox with a connection open on another replica is %s", got)
	}
	release()
	passes()
	if got := a.get(t, sb.ID).State; got != sandbox.StateStopped {
		t.Fatalf("sandbox idle after its connection closed is %s", got)
	}
}

// TestPauseElsewhereEndsAgentCalls: an agent call in flight through
// replica B ends, with the paused error, when replica A pauses the
// sandbox, instead of hanging on the frozen agent.
func TestPauseElsewhereEndsAgentCalls(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.st.Listen(ctx, b.svc.Remote)
	for !b.st.Listening() {
		time.Sleep(10 * time.Millisecond)
	}
	sb := a.create(t, "web", true)
	call, done := b.svc.HoldAgentCall(ctx, sb.ID)
	defer done()
	if _, err := a.svc.Act(ctx, org, sb.ID, sandbox.ActionPause, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("B's agent call still runs after A paused the sandbox")
	}
	if err := context.Cause(call); !errors.Is(err, errdefs.ErrPaused) {
		t.Fatalf("the call ended with %v, want the paused error", err)
	}
}

// TestQuotaHoldsAcrossReplicas: with a quota of one sandbox, a create
// through replica B waits while replica A's create is between its usage
// check and its insert, and then finds the quota used. Without the
// shared quota lock both would pass the check.
func TestQuotaHoldsAcrossReplicas(t *testing.T) {
	c := newCluster(t)
	c.quota = &sandbox.Quota{Sandboxes: 1, CPU: -1, MemoryMB: -1, DiskMB: -1}
	a, b := c.replica(), c.replica()
	ctx := context.Background()

	// A's create has checked the quota and holds it until its insert.
	unlock, err := a.locks.Lock(ctx, "quota "+org)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	created := make(chan error, 1)
	go func() {
		_, err := b.svc.Create(ctx, sandbox.CreateRequest{OrganizationID: org, Name: "second", Wait: true})
		created <- err
	}()
	select {
	case key := <-b.refused:
		if key != "quota "+org {
			t.Fatalf("B waited for %q, want the organisation's quota", key)
		}
	case err := <-created:
		t.Fatalf("B's create passed the quota check while A's held it (err %v)", err)
	}
	sb := &sandbox.Sandbox{ID: "sbx_first", Name: "first", OrganizationID: org, Image: "base",
		State: sandbox.StateCreating, DesiredState: sandbox.StateRunning,
		Resources: sandbox.Resources{CPU: 1, MemoryMB: 1024, DiskMB: 10240, Pids: 256}}
	if err := a.st.CreateSandbox(ctx, sb, sandbox.Event{Type: sandbox.EventState, To: sandbox.StateCreating, Cause: sandbox.CauseUser}); err != nil {
		t.Fatal(err)
	}
	unlock()
	var limit *sandbox.LimitError
	if err := <-created; !errors.As(err, &limit) || limit.Field != "quota.sandboxes" {
		t.Fatalf("B's create after A's: %v, want the sandboxes quota refused", err)
	}
}
