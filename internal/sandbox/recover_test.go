package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// crashRig is a service over SQLite, the archiving fake runtime and a
// local archive store, and the clock of the server restarted on them.
type crashRig struct {
	st    *sqlite.Store
	rt    *fakeruntime.Archiving
	archs *archive.Local
	svc   *sandbox.Service
	log   *slog.Logger
}

func newCrashRig(t *testing.T) *crashRig {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	archs, err := archive.OpenLocal(filepath.Join(dir, "archives"))
	if err != nil {
		t.Fatal(err)
	}
	c := &crashRig{st: st, rt: fakeruntime.NewArchiving(), archs: archs, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c.svc = c.service(t, time.Now)
	return c
}

// service starts a service on the rig, as a (re)started server would.
func (c *crashRig) service(t *testing.T, now func() time.Time) *sandbox.Service {
	t.Helper()
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), c.st, c.rt,
		sandbox.WithLogger(c.log), sandbox.WithArchive(c.archs), sandbox.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// crashed creates a running sandbox with an archive in the archive store,
// then leaves it as a crash would: stored in state with a reason,
// observed by the runtime in obs.
func (c *crashRig) crashed(t *testing.T, name string, state sandbox.State, obs runtime.State) *sandbox.Sandbox {
	t.Helper()
	ctx := context.Background()
	sb, err := c.svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_test", Name: name, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.archs.Put(ctx, sb.ID+".tar.zst", bytes.NewReader([]byte("files"))); err != nil {
		t.Fatal(err)
	}
	sb.State, sb.StateReason = state, "before the crash"
	if err := c.st.UpdateSandbox(ctx, sb, sandbox.Event{}); err != nil {
		t.Fatal(err)
	}
	c.rt.Set(sb.ID, obs)
	return sb
}

func (c *crashRig) hasArchive(t *testing.T, id string) bool {
	t.Helper()
	rc, _, err := c.archs.Get(context.Background(), id+".tar.zst")
	if errors.Is(err, errdefs.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	return true
}

// Expected reasons: kept is the stored one, unchanged; none is empty;
// anything else must be contained in the reason.
const (
	kept = "(kept)"
	none = ""
)

// TestRecoveryTable walks every (stored state, observed runtime state)
// pair through Recover, as a restarted server meets them, and checks the
// state, reason, runtime state and archive each one ends with. The table
// is written out here, not derived from recover_table.go: a sandbox is
// never lost, interrupted stops and deletes are finished, live sandboxes
// are brought to the live state their record heads for, and anything
// gone or dead where it should not be is reported as error with why,
// except a create, which is done again: the record holds what the user
// asked for, and nothing of theirs was there yet.
func TestRecoveryTable(t *testing.T) {
	const (
		run  = runtime.StateRunning
		pau  = runtime.StatePaused
		stp  = runtime.StateStopped
		miss = runtime.StateMissing

		died     = "the sandbox's processes are gone: exited with status 137"
		gone     = "the runtime has no trace of the sandbox"
		startCut = "start was interrupted"
		archCut  = "archive was interrupted; the sandbox stays stopped"
		archRan  = "archive was interrupted and the sandbox was found running"
	)
	type want struct {
		state   sandbox.State
		reason  string
		runtime runtime.State
		archive bool // the archive is still in the archive store
	}
	table := map[sandbox.State]map[runtime.State]want{
		sandbox.StateCreating: {
			run:  {sandbox.StateRunning, none, run, true},
			pau:  {sandbox.StateRunning, none, run, true},
			stp:  {sandbox.StateRunning, none, run, true},
			miss: {sandbox.StateRunning, none, run, true},
		},
		sandbox.StateRunning: {
			run:  {sandbox.StateRunning, kept, run, true},
			pau:  {sandbox.StateRunning, kept, run, true},
			stp:  {sandbox.StateError, died, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StatePausing: {
			run:  {sandbox.StatePaused, none, pau, true},
			pau:  {sandbox.StatePaused, none, pau, true},
			stp:  {sandbox.StateError, died, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StatePaused: {
			run:  {sandbox.StatePaused, kept, pau, true},
			pau:  {sandbox.StatePaused, kept, pau, true},
			stp:  {sandbox.StateError, died, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StateResuming: {
			run:  {sandbox.StateRunning, none, run, true},
			pau:  {sandbox.StateRunning, none, run, true},
			stp:  {sandbox.StateError, died, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StateStopping: {
			run:  {sandbox.StateStopped, none, stp, true},
			pau:  {sandbox.StateStopped, none, stp, true},
			stp:  {sandbox.StateStopped, none, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StateStopped: {
			run:  {sandbox.StateStopped, kept, stp, true},
			pau:  {sandbox.StateStopped, kept, stp, true},
			stp:  {sandbox.StateStopped, kept, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StateStarting: {
			run:  {sandbox.StateRunning, none, run, true},
			pau:  {sandbox.StateRunning, none, run, true},
			stp:  {sandbox.StateError, startCut, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StateArchiving: {
			run:  {sandbox.StateStopped, archRan, stp, true},
			pau:  {sandbox.StateStopped, archRan, stp, true},
			stp:  {sandbox.StateStopped, archCut, stp, true},
			miss: {sandbox.StateError, gone, miss, true},
		},
		sandbox.StateArchived: {
			run:  {sandbox.StateArchived, kept, stp, true},
			pau:  {sandbox.StateArchived, kept, stp, true},
			stp:  {sandbox.StateArchived, kept, stp, true},
			miss: {sandbox.StateArchived, kept, miss, true},
		},
		sandbox.StateDeleting: {
			run:  {sandbox.StateDeleted, none, miss, false},
			pau:  {sandbox.StateDeleted, none, miss, false},
			stp:  {sandbox.StateDeleted, none, miss, false},
			miss: {sandbox.StateDeleted, none, miss, false},
		},
		// Recovery never looks at deleted records: nothing changes.
		sandbox.StateDeleted: {
			run:  {sandbox.StateDeleted, kept, run, true},
			pau:  {sandbox.StateDeleted, kept, pau, true},
			stp:  {sandbox.StateDeleted, kept, stp, true},
			miss: {sandbox.StateDeleted, kept, miss, true},
		},
		sandbox.StateError: {
			run:  {sandbox.StateError, kept, run, true},
			pau:  {sandbox.StateError, kept, pau, true},
			stp:  {sandbox.StateError, kept, stp, true},
			miss: {sandbox.StateError, kept, miss, true},
		},
	}
	observed := []runtime.State{run, pau, stp, miss}

	ctx := context.Background()
	c := newCrashRig(t)
	stored := map[string]*sandbox.Sandbox{}
	for _, st := range sandbox.States {
		if len(table[st]) != len(observed) {
			t.Fatalf("the test's table has %d outcomes for %s, want %d", len(table[st]), st, len(observed))
		}
		for _, obs := range observed {
			name := string(st) + "-" + string(obs)
			stored[name] = c.crashed(t, name, st, obs)
		}
	}

	restart := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	restarted := c.service(t, func() time.Time { return restart })
	if _, err := restarted.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range sandbox.States {
		for _, obs := range observed {
			name := string(st) + "-" + string(obs)
			w, before := table[st][obs], stored[name]
			t.Run(name, func(t *testing.T) {
				sb, err := c.st.GetSandboxByID(ctx, before.ID)
				if err != nil {
					t.Fatal(err)
				}
				if sb.State != w.state {
					t.Fatalf("state %s, want %s (reason %q)", sb.State, w.state, sb.StateReason)
				}
				switch w.reason {
				case kept:
					if sb.StateReason != "before the crash" {
						t.Fatalf("reason %q, want the stored one kept", sb.StateReason)
					}
				case none:
					if sb.StateReason != "" {
						t.Fatalf("reason %q, want none", sb.StateReason)
					}
				default:
					if !strings.Contains(sb.StateReason, w.reason) {
						t.Fatalf("reason %q, want it to contain %q", sb.StateReason, w.reason)
					}
				}
				if got := c.rt.State(sb.ID); got != w.runtime {
					t.Fatalf("runtime left in %s, want %s", got, w.runtime)
				}
				if got := c.hasArchive(t, sb.ID); got != w.archive {
					t.Fatalf("archive kept = %v, want %v", got, w.archive)
				}
				evs, err := c.st.ListEvents(ctx, sb.ID)
				if err != nil {
					t.Fatal(err)
				}
				last := evs[len(evs)-1]
				moved := last.Cause == sandbox.CauseReconcile
				if moved != (w.state != st) {
					t.Fatalf("last event %+v; a reconcile event is wanted exactly when the state moves", last)
				}
				if moved && (last.From != st || last.To != w.state || last.Message != sb.StateReason) {
					t.Fatalf("reconcile event %+v, want %s -> %s with the reason", last, st, w.state)
				}
				if moved && w.state != sandbox.StateError && sb.DesiredState != w.state {
					t.Fatalf("desired state %s, want %s", sb.DesiredState, w.state)
				}
				restarted := (st == sandbox.StateCreating || st == sandbox.StateStarting) && w.state == sandbox.StateRunning
				if got := sb.StartedAt != nil && sb.StartedAt.Equal(restart); got != restarted {
					t.Fatalf("startedAt %v; want it set to the recovery time: %v", sb.StartedAt, restarted)
				}
			})
		}
	}
	// Recovery is idempotent: a second pass changes nothing.
	if n, err := restarted.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("second recovery changed %d sandboxes (err %v)", n, err)
	}
}

// TestRecoveryOpFails checks that runtime work recovery cannot finish
// leaves the sandbox in error with the reason, not in the state the work
// was heading for.
func TestRecoveryOpFails(t *testing.T) {
	ctx := context.Background()
	c := newCrashRig(t)
	sb := c.crashed(t, "stuck", sandbox.StateStopping, runtime.StateRunning)
	c.rt.FailNext("stop", errors.New("cgroup busy"))
	if n, err := c.service(t, time.Now).Recover(ctx); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1", n, err)
	}
	got, err := c.st.GetSandboxByID(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != sandbox.StateError || got.StateReason != "recovering from stopping: cgroup busy" {
		t.Fatalf("after a failed stop: %s %q", got.State, got.StateReason)
	}
}

// TestRecoveryCreateFailsAgain checks that a cut-short create that cannot
// be done again (here the runtime refuses it) ends in error with the
// runtime's reason, and leaves nothing in the runtime.
func TestRecoveryCreateFailsAgain(t *testing.T) {
	ctx := context.Background()
	c := newCrashRig(t)
	sb := c.crashed(t, "doomed", sandbox.StateCreating, runtime.StateMissing)
	c.rt.FailNext("create", errors.New("image base: not found"))
	if n, err := c.service(t, time.Now).Recover(ctx); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1", n, err)
	}
	got, err := c.st.GetSandboxByID(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != sandbox.StateError || got.StateReason != "recovering from creating: image base: not found" {
		t.Fatalf("after a create that fails again: %s %q", got.State, got.StateReason)
	}
	if st := c.rt.State(sb.ID); st != runtime.StateMissing {
		t.Fatalf("runtime left in %s, want missing", st)
	}
}

// TestRecoveryUnknownPair checks that a pair the table does not know (here
// a runtime state no driver reports yet) is left alone, not guessed at.
func TestRecoveryUnknownPair(t *testing.T) {
	ctx := context.Background()
	c := newCrashRig(t)
	sb := c.crashed(t, "odd", sandbox.StateRunning, runtime.State("hibernated"))
	if n, err := c.service(t, time.Now).Recover(ctx); err != nil || n != 0 {
		t.Fatalf("Recover = %d, %v; want 0", n, err)
	}
	got, err := c.st.GetSandboxByID(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != sandbox.StateRunning || got.StateReason != "before the crash" || got.Version != sb.Version {
		t.Fatalf("unknown pair changed the sandbox: %s %q v%d", got.State, got.StateReason, got.Version)
	}
}
