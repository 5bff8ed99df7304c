package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// updateTests cover optimistic concurrency and the event log.
var updateTests = []test{
	{"Update", testUpdate},
	{"VersionConflict", testVersionConflict},
	{"VersionConflictConcurrent", testVersionConflictConcurrent},
	{"UpdateMissing", testUpdateMissing},
	{"FailedUpdateIsAtomic", testFailedUpdateAtomic},
	{"Events", testEvents},
}

func testUpdate(t *testing.T, s store.Store) {
	org := newOrg()
	sb := mustCreate(t, s, newSandbox(org, "web"))
	created := sb.CreatedAt
	before := *sb

	sb.State, sb.DesiredState, sb.StateReason = sandbox.StatePaused, sandbox.StatePaused, "user pause"
	sb.Metadata = map[string]string{"team": "infra"}
	sb.Env = map[string]string{"B": "2"}
	sb.Entrypoint = []string{"python"}
	sb.Network = sandbox.Network{AllowCIDRs: []string{"0.0.0.0/0"}}
	sb.Resources.MemoryMB = 1024
	sb.AutoStopMinutes = 0
	sb.AutoPauseMinutes = 7
	stamp := before.UpdatedAt.Add(time.Minute)
	sb.UpdatedAt = stamp // the caller's clock, not the store's
	mustUpdate(t, s, sb, sandbox.Event{Type: "state", From: sandbox.StateRunning, To: sandbox.StatePaused})

	if sb.Version != before.Version+1 {
		t.Fatalf("sb.Version = %d, want %d", sb.Version, before.Version+1)
	}
	if !sb.UpdatedAt.Equal(stamp) {
		t.Fatalf("UpdatedAt = %v, want the caller's %v", sb.UpdatedAt, stamp)
	}
	got := mustGet(t, s, org, sb.ID)
	// What UpdateSandbox left in sb is exactly what a read returns.
	wantSandbox(t, "after update", got, sb)
	if !got.CreatedAt.Equal(created) {
		t.Fatalf("CreatedAt changed: %v, want %v", got.CreatedAt, created)
	}
	if evs, _ := s.ListEvents(context.Background(), sb.ID); len(evs) != 2 || !evs[1].Time.Equal(stamp) {
		t.Fatalf("update event = %+v, want one stamped with the update's time %v", evs, stamp)
	}

	// A zero UpdatedAt is filled in, and read back as written.
	sb.UpdatedAt = time.Time{}
	mustUpdate(t, s, sb, sandbox.Event{})
	if sb.UpdatedAt.IsZero() {
		t.Fatal("a zero UpdatedAt was written as zero")
	}
	wantSandbox(t, "after update with zero UpdatedAt", mustGet(t, s, org, sb.ID), sb)

	// The metadata filter follows the new metadata.
	list := func(md map[string]string) int {
		_, total, err := s.ListSandboxes(context.Background(),
			sandbox.ListFilter{OrganizationID: org, States: []sandbox.State{sandbox.StatePaused}, Metadata: md, Page: 1, PageSize: 10})
		if err != nil {
			t.Fatalf("ListSandboxes: %v", err)
		}
		return total
	}
	if list(map[string]string{"team": "infra"}) != 1 || list(map[string]string{"team": "ml"}) != 0 ||
		list(map[string]string{"env": "dev"}) != 0 {
		t.Fatal("metadata filter does not follow an update's metadata")
	}
}

func testVersionConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	sb := mustCreate(t, s, newSandbox(org, "web"))
	a, b := mustGet(t, s, org, sb.ID), mustGet(t, s, org, sb.ID)

	a.State = sandbox.StatePausing
	mustUpdate(t, s, a, sandbox.Event{Type: "state", From: sandbox.StateRunning, To: sandbox.StatePausing, Cause: "a"})
	b.State = sandbox.StateStopping
	err := s.UpdateSandbox(ctx, b, sandbox.Event{Type: "state", From: sandbox.StateRunning, To: sandbox.StateStopping, Cause: "b"})
	wantErr(t, "second writer", err, errdefs.ErrConflict)
	if b.Version != sb.Version {
		t.Fatalf("losing writer's Version moved to %d", b.Version)
	}

	got := mustGet(t, s, org, sb.ID)
	if got.State != sandbox.StatePausing || got.Version != sb.Version+1 {
		t.Fatalf("stored state %s version %d; want pausing, %d", got.State, got.Version, sb.Version+1)
	}
	evs, _ := s.ListEvents(ctx, sb.ID)
	if len(evs) != 2 || evs[1].Cause != "a" {
		t.Fatalf("events = %+v; want create and a's", evs)
	}

	// The loser re-reads and then succeeds.
	b = mustGet(t, s, org, sb.ID)
	b.State = sandbox.StatePaused
	mustUpdate(t, s, b, sandbox.Event{})
}

func testVersionConflictConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	sb := mustCreate(t, s, newSandbox(org, "web"))
	read := mustGet(t, s, org, sb.ID)

	const writers = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []int
		errs   = make([]error, writers)
		states = []sandbox.State{sandbox.StatePausing, sandbox.StateStopping, sandbox.StateDeleting, sandbox.StateError}
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := *read
			mine.State = states[i%len(states)]
			mine.StateReason = fmt.Sprint("writer ", i)
			err := s.UpdateSandbox(ctx, &mine, sandbox.Event{Type: "state", To: mine.State, Message: mine.StateReason})
			errs[i] = err
			if err == nil {
				mu.Lock()
				won = append(won, i)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	if len(won) != 1 {
		t.Fatalf("%d writers won from the same read (%v), want exactly 1; errors %v", len(won), won, errs)
	}
	for i, err := range errs {
		if i != won[0] && !errors.Is(err, errdefs.ErrConflict) {
			t.Fatalf("writer %d: %v, want ErrConflict", i, err)
		}
	}
	got := mustGet(t, s, org, sb.ID)
	if want := fmt.Sprint("writer ", won[0]); got.StateReason != want || got.Version != read.Version+1 {
		t.Fatalf("stored %q version %d; want %q version %d", got.StateReason, got.Version, want, read.Version+1)
	}
	evs, _ := s.ListEvents(ctx, sb.ID)
	if len(evs) != 2 || evs[1].Message != got.StateReason {
		t.Fatalf("events = %+v; want create and the winner's only", evs)
	}
}

func testUpdateMissing(t *testing.T, s store.Store) {
	ctx := context.Background()
	sb := newSandbox(newOrg(), "ghost")
	err := s.UpdateSandbox(ctx, sb, sandbox.Event{Type: "state", To: sandbox.StateStopped})
	wantErr(t, "update of a missing sandbox", err, errdefs.ErrNotFound)
	if evs, _ := s.ListEvents(ctx, sb.ID); len(evs) != 0 {
		t.Fatalf("update of a missing sandbox wrote events: %+v", evs)
	}
}

func testFailedUpdateAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	mustCreate(t, s, newSandbox(org, "web"))
	api := mustCreate(t, s, newSandbox(org, "api"))

	stale := mustGet(t, s, org, api.ID)
	stale.Name = "web"
	stale.State = sandbox.StateStopped
	stale.Metadata = map[string]string{"moved": "yes"}
	err := s.UpdateSandbox(ctx, stale, sandbox.Event{Type: "state", To: sandbox.StateStopped})
	wantErr(t, "rename onto a taken name", err, errdefs.ErrAlreadyExists)

	got := mustGet(t, s, org, api.ID)
	wantSandbox(t, "after the refused update", got, api)
	if evs, _ := s.ListEvents(ctx, api.ID); len(evs) != 1 {
		t.Fatalf("refused update appended events: %+v", evs)
	}
	_, total, err := s.ListSandboxes(ctx, sandbox.ListFilter{OrganizationID: org, Metadata: map[string]string{"moved": "yes"}})
	if err != nil || total != 0 {
		t.Fatalf("refused update's metadata is filterable: %d, %v", total, err)
	}
}

func testEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	sb := mustCreate(t, s, newSandbox(org, "web"))
	other := mustCreate(t, s, newSandbox(org, "other"))

	at := now().Add(-time.Minute)
	steps := []sandbox.Event{
		{Type: "state", From: sandbox.StateRunning, To: sandbox.StatePausing, Cause: "user"},
		{Type: "state", From: sandbox.StatePausing, To: sandbox.StatePaused, Cause: "user", Time: at, Message: "frozen"},
		{}, // no event: a plain update
		{Type: "renew", Cause: "user", Message: "expiry moved"},
	}
	for i, ev := range steps {
		if i == 1 {
			setState(t, s, other, sandbox.StateStopped) // interleave another sandbox's event
		}
		mustUpdate(t, s, sb, ev)
	}

	evs, err := s.ListEvents(ctx, sb.ID)
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	want := []string{"state:creating", "state:pausing", "state:paused", "renew:"}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+":"+string(ev.To))
		if ev.SandboxID != sb.ID {
			t.Fatalf("event %+v belongs to %s", ev, ev.SandboxID)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatalf("event IDs not increasing: %d then %d", evs[i-1].ID, evs[i].ID)
		}
	}
	if !evs[2].Time.Equal(at) || evs[2].Message != "frozen" || evs[2].From != sandbox.StatePausing {
		t.Fatalf("event with a time = %+v, want time %v kept", evs[2], at)
	}
	if evs[1].Time.IsZero() || evs[3].Time.IsZero() {
		t.Fatalf("events without a time were not stamped: %+v", evs)
	}
	if evs, err := s.ListEvents(ctx, "sbx_nope"); err != nil || len(evs) != 0 {
		t.Fatalf("events of an unknown sandbox = %+v, %v; want none", evs, err)
	}
}
