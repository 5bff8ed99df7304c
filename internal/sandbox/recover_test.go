package sandbox_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// TestRecoverAfterCrash stores sandboxes in every state a crash can leave
// behind, sets what the runtime "finds", and checks where Recover settles
// each one, as a restarted server would.
func TestRecoverAfterCrash(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt := fakeruntime.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt, sandbox.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)

	cases := []struct {
		name     string
		stored   sandbox.State
		observed runtime.State
		want     sandbox.State
		reason   string // substring of stateReason; "" means empty
		rtAfter  runtime.State
	}{
		{"running-alive", sandbox.StateRunning, runtime.StateRunning, sandbox.StateRunning, "", runtime.StateRunning},
		{"running-died", sandbox.StateRunning, runtime.StateStopped, sandbox.StateError, "137", runtime.StateStopped},
		{"running-vanished", sandbox.StateRunning, runtime.StateMissing, sandbox.StateError, "gone", runtime.StateMissing},
		{"paused-alive", sandbox.StatePaused, runtime.StatePaused, sandbox.StatePaused, "", runtime.StatePaused},
		{"pausing-done", sandbox.StatePausing, runtime.StatePaused, sandbox.StatePaused, "", runtime.StatePaused},
		{"pausing-rolled-back", sandbox.StatePausing, runtime.StateRunning, sandbox.StateRunning, "", runtime.StateRunning},
		{"resuming-done", sandbox.StateResuming, runtime.StateRunning, sandbox.StateRunning, "", runtime.StateRunning},
		{"creating-done", sandbox.StateCreating, runtime.StateRunning, sandbox.StateRunning, "", runtime.StateRunning},
		{"creating-half", sandbox.StateCreating, runtime.StateStopped, sandbox.StateError, "being created", runtime.StateMissing},
		{"stopping-finished", sandbox.StateStopping, runtime.StateRunning, sandbox.StateStopped, "", runtime.StateStopped},
		{"starting-failed", sandbox.StateStarting, runtime.StateStopped, sandbox.StateStopped, "starting", runtime.StateStopped},
		{"deleting-finished", sandbox.StateDeleting, runtime.StatePaused, sandbox.StateDeleted, "", runtime.StateMissing},
		{"stopped-found-running", sandbox.StateStopped, runtime.StateRunning, sandbox.StateStopped, "", runtime.StateStopped},
		{"stopped-stays", sandbox.StateStopped, runtime.StateStopped, sandbox.StateStopped, "", runtime.StateStopped},
	}
	ids := map[string]string{}
	for _, c := range cases {
		sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_test", Name: c.name, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		sb.State = c.stored
		if err := st.UpdateSandbox(ctx, sb, sandbox.Event{}); err != nil {
			t.Fatal(err)
		}
		rt.Set(sb.ID, c.observed)
		ids[c.name] = sb.ID
	}

	// A second service on the same store is the restarted server.
	restarted, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt, sandbox.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sb, err := st.GetSandboxByID(ctx, ids[c.name])
			if err != nil {
				t.Fatal(err)
			}
			if sb.State != c.want {
				t.Fatalf("state %s, want %s (reason %q)", sb.State, c.want, sb.StateReason)
			}
			if (c.reason == "") != (sb.StateReason == "") || !strings.Contains(sb.StateReason, c.reason) {
				t.Fatalf("reason %q, want it to contain %q", sb.StateReason, c.reason)
			}
			if got := rt.State(sb.ID); got != c.rtAfter {
				t.Fatalf("runtime left in %s, want %s", got, c.rtAfter)
			}
		})
	}
	// Recovery is idempotent: a second pass changes nothing.
	if n, err := restarted.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("second recovery changed %d sandboxes (err %v)", n, err)
	}
}
