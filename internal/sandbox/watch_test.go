package sandbox_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// watching is the fake runtime with a Watcher: the test ends a sandbox's
// processes (Set stopped) and reports it on the channel, as a driver
// does when an init dies.
type watching struct {
	*fakeruntime.Fake
	ended chan runtime.Exit
}

var _ runtime.Watcher = watching{}

func (w watching) Capabilities() runtime.Capabilities {
	c := w.Fake.Capabilities()
	c.Watch = true
	return c
}

func (w watching) Watch(ctx context.Context) <-chan runtime.Exit { return w.ended }

// TestWatchSettlesEndedSandboxes checks that a running sandbox the
// runtime reports ended is error with the runtime's reason and a
// reconcile event, and that a report about a sandbox that is not live
// (stopped on purpose, or unknown) changes nothing.
func TestWatchSettlesEndedSandboxes(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt := watching{Fake: fakeruntime.New(), ended: make(chan runtime.Exit)}
	if err := runtime.Check(rt); err != nil {
		t.Fatal(err)
	}
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt,
		sandbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Watch(watchCtx); close(done) }()
	shutdown := sync.OnceFunc(func() { stop(); close(rt.ended); <-done; svc.Close() })
	t.Cleanup(shutdown)

	create := func(name string) *sandbox.Sandbox {
		sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_test", Name: name, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		return sb
	}
	dead, stopped := create("dead"), create("stopped")
	if _, err := svc.Act(ctx, "org_test", stopped.ID, sandbox.ActionStop, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	stoppedBefore, err := st.GetSandboxByID(ctx, stopped.ID)
	if err != nil {
		t.Fatal(err)
	}

	rt.Set(dead.ID, runtime.StateStopped) // the fake's reason: exited with status 137
	for _, id := range []string{"sbx_unknown", stopped.ID, dead.ID} {
		rt.ended <- runtime.Exit{ID: id}
	}
	var got *sandbox.Sandbox
	poll.Until(t, "the dead sandbox to settle", func() bool {
		got, err = st.GetSandboxByID(ctx, dead.ID)
		return err == nil && got.State != sandbox.StateRunning
	})
	if got.State != sandbox.StateError || !strings.Contains(got.StateReason, "exited with status 137") {
		t.Fatalf("dead sandbox: %s %q, want error with the exit status", got.State, got.StateReason)
	}
	evs, err := st.ListEvents(ctx, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.From != sandbox.StateRunning || last.To != sandbox.StateError || last.Cause != sandbox.CauseReconcile || last.Message != got.StateReason {
		t.Fatalf("last event %+v, want running -> error by reconcile with the reason", last)
	}
	shutdown() // the reports sent before it are settled once it returns
	after, err := st.GetSandboxByID(ctx, stopped.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != sandbox.StateStopped || after.Version != stoppedBefore.Version {
		t.Fatalf("a report about a stopped sandbox changed it: %s v%d (was v%d)", after.State, after.Version, stoppedBefore.Version)
	}
}
