package sandbox_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// clock is a settable time source: the reconciler's timers are checked by
// moving it, not by waiting.
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

// rig is a service and its reconciler over SQLite and the fake runtime,
// with one interval minute lasting a second.
type rig struct {
	t     *testing.T
	dir   string
	st    *sqlite.Store
	rt    *fakeruntime.Archiving
	clk   *clock
	svc   *sandbox.Service
	rec   *sandbox.Reconciler
	cfg   sandbox.Config
	archs *archive.Local
}

const org = "org_test"

func newRig(t *testing.T, tweak func(*sandbox.Config)) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir(), rt: fakeruntime.NewArchiving(), clk: &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}
	r.cfg = sandbox.DefaultConfig()
	r.cfg.Automation.Minute = time.Second
	r.cfg.Automation.Interval = time.Second
	if tweak != nil {
		tweak(&r.cfg)
	}
	var err error
	if r.archs, err = archive.OpenLocal(filepath.Join(r.dir, "archives")); err != nil {
		t.Fatal(err)
	}
	r.open()
	return r
}

// open (re)starts the service on the rig's database, as a restarted
// server would.
func (r *rig) open() {
	t := r.t
	st, err := sqlite.Open(context.Background(), filepath.Join(r.dir, "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := sandbox.NewService(r.cfg, st, r.rt, sandbox.WithLogger(log), sandbox.WithClock(r.clk.Now), sandbox.WithArchive(r.archs))
	if err != nil {
		t.Fatal(err)
	}
	r.st, r.svc, r.rec = st, svc, svc.NewReconciler()
	t.Cleanup(r.close)
}

func (r *rig) close() {
	if r.svc == nil {
		return
	}
	r.rec.Wait()
	r.svc.Close()
	r.st.Close()
	r.svc = nil
}

// pass runs one reconciler pass and waits for the actions it started.
func (r *rig) pass() {
	r.rec.Pass(context.Background())
	r.rec.Wait()
}

func (r *rig) create(name string, req sandbox.CreateRequest) *sandbox.Sandbox {
	r.t.Helper()
	req.OrganizationID, req.Name, req.Wait = org, name, true
	sb, err := r.svc.Create(context.Background(), req)
	if err != nil {
		r.t.Fatal(err)
	}
	return sb
}

func (r *rig) act(id string, a sandbox.Action) *sandbox.Sandbox {
	r.t.Helper()
	sb, err := r.svc.Act(context.Background(), org, id, a, sandbox.ActOptions{Wait: true})
	if err != nil {
		r.t.Fatalf("%s %s: %v", a, id, err)
	}
	return sb
}

func (r *rig) state(id string) sandbox.State {
	r.t.Helper()
	sb, err := r.svc.Get(context.Background(), org, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return sb.State
}

// count returns how many events of id moved it to state `to` with cause.
func (r *rig) count(id string, to sandbox.State, cause string) int {
	r.t.Helper()
	evs, err := r.st.ListEvents(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == sandbox.EventState && e.To == to && e.Cause == cause {
			n++
		}
	}
	return n
}

func ptr[T any](v T) *T { return &v }

func TestExpiryDeletesOnceWhenDue(t *testing.T) {
	r := newRig(t, nil)
	sb := r.create("short", sandbox.CreateRequest{TimeoutSeconds: ptr(int64(10))})
	keep := r.create("forever", sandbox.CreateRequest{})
	r.clk.Advance(9 * time.Second)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateRunning {
		t.Fatalf("before expiry: %s", st)
	}
	r.clk.Advance(2 * time.Second)
	r.pass()
	r.pass() // a second pass finds nothing more to do
	if st := r.state(sb.ID); st != sandbox.StateDeleted {
		t.Fatalf("after expiry: %s", st)
	}
	if n := r.count(sb.ID, sandbox.StateDeleting, sandbox.CauseExpiry); n != 1 {
		t.Fatalf("%d expiry deletes, want 1", n)
	}
	if r.rt.State(sb.ID) != runtime.StateMissing {
		t.Fatal("runtime still has the expired sandbox")
	}
	if st := r.state(keep.ID); st != sandbox.StateRunning {
		t.Fatalf("sandbox without timeout is %s", st)
	}
}

func TestRenewedExpiryIsNotApplied(t *testing.T) {
	r := newRig(t, nil)
	sb := r.create("renewed", sandbox.CreateRequest{TimeoutSeconds: ptr(int64(10))})
	r.clk.Advance(8 * time.Second)
	if _, err := r.svc.SetTimeout(context.Background(), org, sb.ID, ptr(int64(60))); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(10 * time.Second)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateRunning {
		t.Fatalf("renewed sandbox is %s", st)
	}
	if _, err := r.svc.SetTimeout(context.Background(), org, sb.ID, nil); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(time.Hour)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateRunning {
		t.Fatalf("sandbox with timeout removed is %s", st)
	}
}

func TestPausedExpiry(t *testing.T) {
	for _, expirePaused := range []bool{true, false} {
		t.Run(map[bool]string{true: "expires", false: "waits"}[expirePaused], func(t *testing.T) {
			r := newRig(t, func(c *sandbox.Config) { c.Automation.ExpirePaused = expirePaused })
			sb := r.create("p", sandbox.CreateRequest{TimeoutSeconds: ptr(int64(5))})
			r.act(sb.ID, sandbox.ActionPause)
			r.clk.Advance(6 * time.Second)
			r.pass()
			want := sandbox.StateDeleted
			if !expirePaused {
				want = sandbox.StatePaused
			}
			if st := r.state(sb.ID); st != want {
				t.Fatalf("paused sandbox past expiry is %s, want %s", st, want)
			}
		})
	}
}

func TestAutoStopIdleButNotBusy(t *testing.T) {
	r := newRig(t, nil)
	idle := r.create("idle", sandbox.CreateRequest{AutoStopMinutes: ptr(3)})
	busy := r.create("busy", sandbox.CreateRequest{AutoStopMinutes: ptr(3)})
	never := r.create("never", sandbox.CreateRequest{})
	for i := 0; i < 8; i++ {
		r.pass()
		r.clk.Advance(time.Second)
		r.rt.AddCPU(busy.ID, 900*time.Millisecond) // a busy loop on one core
		r.rt.AddCPU(idle.ID, time.Millisecond)     // an idle init
	}
	if st := r.state(idle.ID); st != sandbox.StateStopped {
		t.Fatalf("idle sandbox is %s", st)
	}
	if n := r.count(idle.ID, sandbox.StateStopping, sandbox.CauseAutoStop); n != 1 {
		t.Fatalf("%d auto-stops of the idle sandbox, want 1", n)
	}
	if st := r.state(busy.ID); st != sandbox.StateRunning {
		t.Fatalf("CPU-busy sandbox is %s", st)
	}
	if st := r.state(never.ID); st != sandbox.StateRunning {
		t.Fatalf("sandbox without auto-stop is %s", st)
	}
	// Once the busy one goes quiet it is stopped too.
	for i := 0; i < 6; i++ {
		r.pass()
		r.clk.Advance(time.Second)
	}
	if st := r.state(busy.ID); st != sandbox.StateStopped {
		t.Fatalf("quiet sandbox is %s", st)
	}
}

func TestAutoStopCountsAPIActivity(t *testing.T) {
	r := newRig(t, nil)
	sb := r.create("touched", sandbox.CreateRequest{AutoStopMinutes: ptr(3)})
	for i := 0; i < 8; i++ {
		r.pass()
		r.clk.Advance(time.Second)
		cur, _ := r.svc.Get(context.Background(), org, sb.ID)
		if err := r.svc.Touch(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.state(sb.ID); st != sandbox.StateRunning {
		t.Fatalf("sandbox in use through the API is %s", st)
	}
}

func TestAutoDelete(t *testing.T) {
	r := newRig(t, nil)
	now := r.create("now", sandbox.CreateRequest{AutoDeleteMinutes: ptr(0)})
	later := r.create("later", sandbox.CreateRequest{AutoDeleteMinutes: ptr(5)})
	never := r.create("never", sandbox.CreateRequest{})
	for _, sb := range []*sandbox.Sandbox{now, later, never} {
		r.act(sb.ID, sandbox.ActionStop)
	}
	r.pass()
	if st := r.state(now.ID); st != sandbox.StateDeleted {
		t.Fatalf("autoDeleteMinutes 0: %s", st)
	}
	r.clk.Advance(4 * time.Second)
	r.pass()
	if st := r.state(later.ID); st != sandbox.StateStopped {
		t.Fatalf("before its auto-delete: %s", st)
	}
	r.clk.Advance(2 * time.Second)
	r.pass()
	if st := r.state(later.ID); st != sandbox.StateDeleted {
		t.Fatalf("after its auto-delete: %s", st)
	}
	if n := r.count(later.ID, sandbox.StateDeleting, sandbox.CauseAutoDelete); n != 1 {
		t.Fatalf("%d auto-deletes, want 1", n)
	}
	r.clk.Advance(time.Hour)
	r.pass()
	if st := r.state(never.ID); st != sandbox.StateStopped {
		t.Fatalf("autoDeleteMinutes -1: %s", st)
	}
}

func TestAutoArchiveThenStartRestores(t *testing.T) {
	r := newRig(t, nil)
	sb := r.create("arch", sandbox.CreateRequest{AutoArchiveMinutes: ptr(2)})
	r.rt.WriteDisk(sb.ID, []byte("the sandbox's files"))
	r.act(sb.ID, sandbox.ActionStop)
	r.clk.Advance(time.Second)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateStopped {
		t.Fatalf("before auto-archive: %s", st)
	}
	r.clk.Advance(2 * time.Second)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateArchived {
		t.Fatalf("after auto-archive: %s", st)
	}
	if _, ok := r.rt.Disk(sb.ID); ok {
		t.Fatal("working copy kept after archive")
	}
	if n := r.count(sb.ID, sandbox.StateArchiving, sandbox.CauseAutoArchive); n != 1 {
		t.Fatalf("%d auto-archives, want 1", n)
	}
	r.clk.Advance(time.Hour) // archived is not archived again
	r.pass()
	if got := r.act(sb.ID, sandbox.ActionStart); got.State != sandbox.StateRunning {
		t.Fatalf("start of archived: %s", got.State)
	}
	if b, _ := r.rt.Disk(sb.ID); string(b) != "the sandbox's files" {
		t.Fatalf("restored %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Join(r.dir, "archives")); len(ents) != 0 {
		t.Fatalf("archive kept after restore: %v", ents)
	}
	evs, _ := r.st.ListEvents(context.Background(), sb.ID)
	var progress int
	for _, e := range evs {
		if e.Type == sandbox.EventArchive {
			progress++
		}
	}
	if progress < 3 { // packed, restoring, restored
		t.Fatalf("archive progress events: %+v", evs)
	}
}

func TestStaleTransitionIsSettled(t *testing.T) {
	r := newRig(t, nil)
	sb := r.create("stuck", sandbox.CreateRequest{})
	// A stop whose settling write never happened: stored as stopping,
	// nothing working on it, the runtime already stopped it.
	cur, _ := r.svc.Get(context.Background(), org, sb.ID)
	cur.State, cur.DesiredState = sandbox.StateStopping, sandbox.StateStopped
	cur.UpdatedAt = r.clk.Now()
	if err := r.st.UpdateSandbox(context.Background(), cur, sandbox.Event{Type: sandbox.EventState, From: sandbox.StateRunning, To: sandbox.StateStopping, Cause: "user"}); err != nil {
		t.Fatal(err)
	}
	r.rt.Set(sb.ID, runtime.StateStopped)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateStopping {
		t.Fatalf("settled before its deadline: %s", st)
	}
	r.clk.Advance(r.cfg.Automation.StaleAfter + time.Second)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateStopped {
		t.Fatalf("stale stopping settled to %s", st)
	}
	if n := r.count(sb.ID, sandbox.StateStopped, sandbox.CauseReconcile); n != 1 {
		t.Fatalf("%d reconcile events, want 1", n)
	}
}

// TestOverdueTimersFireAfterRestart stops the service (as a crash would:
// no shutdown work) with timers pending, moves the clock past them, and
// checks that the first pass of a new service applies each exactly once.
func TestOverdueTimersFireAfterRestart(t *testing.T) {
	r := newRig(t, nil)
	exp := r.create("expiring", sandbox.CreateRequest{TimeoutSeconds: ptr(int64(5))})
	del := r.create("deleting", sandbox.CreateRequest{AutoDeleteMinutes: ptr(3)})
	r.act(del.ID, sandbox.ActionStop)
	r.close()

	r.clk.Advance(time.Minute)
	r.open()
	if _, err := r.svc.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.pass()
	r.pass()
	for _, c := range []struct {
		id, cause string
	}{{exp.ID, sandbox.CauseExpiry}, {del.ID, sandbox.CauseAutoDelete}} {
		if st := r.state(c.id); st != sandbox.StateDeleted {
			t.Fatalf("%s after restart: %s", c.id, st)
		}
		if n := r.count(c.id, sandbox.StateDeleting, c.cause); n != 1 {
			t.Fatalf("%s: %d %s events, want 1", c.id, n, c.cause)
		}
	}
}

func TestDeletedArePurgedAfterRetention(t *testing.T) {
	r := newRig(t, func(c *sandbox.Config) { c.DeletedRetention = 30 * time.Second })
	sb := r.create("gone", sandbox.CreateRequest{})
	r.act(sb.ID, sandbox.ActionDelete)
	r.clk.Advance(10 * time.Second)
	r.pass()
	if st := r.state(sb.ID); st != sandbox.StateDeleted {
		t.Fatalf("within retention: %s", st)
	}
	r.clk.Advance(time.Minute)
	r.pass()
	if _, err := r.svc.Get(context.Background(), org, sb.ID); err == nil {
		t.Fatal("deleted sandbox still readable after its retention")
	}
}

// TestAutoStopSparesOpenConnections keeps a terminal (or WebSocket) open on
// a sandbox that uses no CPU and gets no new calls: it is not stopped while
// the connection lasts, and is once it has been closed for the interval.
func TestAutoStopSparesOpenConnections(t *testing.T) {
	r := newRig(t, nil)
	sb := r.create("terminal", sandbox.CreateRequest{AutoStopMinutes: ptr(3)})
	release := r.svc.Hold(sb.ID)
	for i := 0; i < 8; i++ {
		r.pass()
		r.clk.Advance(time.Second)
		r.rt.AddCPU(sb.ID, time.Millisecond)
	}
	if st := r.state(sb.ID); st != sandbox.StateRunning {
		t.Fatalf("sandbox with an open connection is %s", st)
	}
	release()
	for i := 0; i < 8; i++ {
		r.pass()
		r.clk.Advance(time.Second)
		r.rt.AddCPU(sb.ID, time.Millisecond)
	}
	if st := r.state(sb.ID); st != sandbox.StateStopped {
		t.Fatalf("sandbox idle after its connection closed is %s", st)
	}
}
