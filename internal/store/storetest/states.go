package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// stateTests walk sandbox.States, so that a backend which stores states
// in a type of its own (an enum, a check constraint) or filters by a list
// of its own cannot miss one when a state is added.
var stateTests = []test{
	{"EveryStateRoundTrip", testEveryStateRoundTrip},
	{"EveryStateReachable", testEveryStateReachable},
}

// testEveryStateRoundTrip stores a sandbox in each state and reads it back
// through every lookup: by ID always; by name, in the default list and in
// ListAllSandboxes unless deleted; in a list filtered by its state; and
// purged only when deleted.
func testEveryStateRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	byState := map[sandbox.State]*sandbox.Sandbox{}
	var live []string
	for _, st := range sandbox.States {
		sb := mustCreate(t, s, inState(org, "sb-"+string(st), st))
		byState[st] = sb
		if st != sandbox.StateDeleted {
			live = append(live, sb.Name)
		}
	}
	for _, st := range sandbox.States {
		sb := byState[st]
		wantSandbox(t, "by id in "+string(st), mustGet(t, s, org, sb.ID), sb)
		byName, err := s.GetSandbox(ctx, org, sb.Name)
		if st == sandbox.StateDeleted {
			wantErr(t, "deleted sandbox by name", err, errdefs.ErrNotFound)
		} else if err != nil || byName.ID != sb.ID {
			t.Fatalf("by name in %s: %v, %v", st, byName, err)
		}
		got, total, err := s.ListSandboxes(ctx, sandbox.ListFilter{OrganizationID: org, States: []sandbox.State{st}})
		if err != nil || total != 1 || len(got) != 1 || got[0].ID != sb.ID || got[0].State != st {
			t.Fatalf("list of state %s = %v (total %d), %v", st, names(got), total, err)
		}
	}
	got, total, err := s.ListSandboxes(ctx, sandbox.ListFilter{OrganizationID: org, PageSize: 100})
	if err != nil || total != len(live) {
		t.Fatalf("default list: total %d, %v; want %d", total, err, len(live))
	}
	wantNames(t, "default list", got, live...)
	all, err := s.ListAllSandboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "ListAllSandboxes", all, live...)
	if n, err := s.PurgeDeleted(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("PurgeDeleted = %d, %v; want the one deleted sandbox", n, err)
	}
	for _, st := range sandbox.States {
		_, err := s.GetSandboxByID(ctx, byState[st].ID)
		if st == sandbox.StateDeleted {
			wantErr(t, "purged sandbox", err, errdefs.ErrNotFound)
		} else if err != nil {
			t.Fatalf("purge took the sandbox in %s: %v", st, err)
		}
	}
}

// testEveryStateReachable moves one sandbox into every state in turn
// through UpdateSandbox and checks each write and its event.
func testEveryStateReachable(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	sb := mustCreate(t, s, newSandbox(org, "walker"))
	want := []sandbox.State{sandbox.StateCreating} // the create event
	for _, st := range sandbox.States {
		setState(t, s, sb, st)
		want = append(want, st)
		got, err := s.GetSandboxByID(ctx, sb.ID)
		if err != nil || got.State != st || got.DesiredState != st {
			t.Fatalf("after moving to %s: %+v, %v", st, got, err)
		}
	}
	evs, err := s.ListEvents(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var tos []sandbox.State
	for _, ev := range evs {
		tos = append(tos, ev.To)
	}
	if !slices.Equal(tos, want) {
		t.Fatalf("events lead to %v, want %v", tos, want)
	}
}
