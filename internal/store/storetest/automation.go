package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// automationTests cover the reconciler's due-work lookups.
var automationTests = []test{
	{"ListExpired", testListExpired},
	{"ListTimerOn", testListTimerOn},
	{"ListTimerDue", testListTimerDue},
	{"ListStale", testListStale},
	{"AppendEvent", testAppendEvent},
	{"OrgSettings", testOrgSettings},
	{"PauseMemory", testPauseMemory},
}

func sortedNames(sbs []*sandbox.Sandbox) []string {
	n := names(sbs)
	sort.Strings(n)
	return n
}

func wantNames(t *testing.T, what string, sbs []*sandbox.Sandbox, want ...string) {
	t.Helper()
	got := sortedNames(sbs)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

// inState returns newSandbox(org, name) in state st; the store takes any
// state on create, so each due-work test seeds every state directly.
func inState(org, name string, st sandbox.State) *sandbox.Sandbox {
	sb := newSandbox(org, name)
	sb.State, sb.DesiredState = st, st
	return sb
}

// named returns prefix-state for each of states, in order.
func named(prefix string, states ...sandbox.State) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = prefix + string(st)
	}
	return out
}

// everyOther returns every second state: a set neither transitional nor
// stable, so that a backend filtering by its own idea of either fails.
func everyOther() []sandbox.State {
	var out []sandbox.State
	for i, st := range sandbox.States {
		if i%2 == 0 {
			out = append(out, st)
		}
	}
	return out
}

// reversed returns ss back to front.
func reversed(ss []string) []string {
	out := slices.Clone(ss)
	slices.Reverse(out)
	return out
}

// wantOrder fails unless sbs are exactly want, in order.
func wantOrder(t *testing.T, what string, sbs []*sandbox.Sandbox, want []string) {
	t.Helper()
	if got := names(sbs); !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// testListExpired seeds, in every state, a sandbox that expired (the one
// of the i-th state i seconds ago, the first exactly now), one that expires
// later and one without expiry, and asks for each state alone and for
// sets of them: the backend returns exactly the expired ones in the
// states asked for, whatever the states are.
func testListExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	at := now()
	later := at.Add(time.Hour)
	for i, st := range sandbox.States {
		exp := at.Add(-time.Duration(i) * time.Second)
		for _, sd := range []struct {
			prefix  string
			expires *time.Time
		}{{"due-", &exp}, {"later-", &later}, {"never-", nil}} {
			sb := inState(org, sd.prefix+string(st), st)
			sb.ExpiresAt = sd.expires
			mustCreate(t, s, sb)
		}
	}
	list := func(states []sandbox.State, limit int) []*sandbox.Sandbox {
		t.Helper()
		got, err := s.ListExpired(ctx, sandbox.ExpiryQuery{States: states, Now: at, Limit: limit})
		if err != nil {
			t.Fatalf("ListExpired(%v): %v", states, err)
		}
		return got
	}
	for _, st := range sandbox.States {
		wantOrder(t, "expired in "+string(st), list([]sandbox.State{st}, 100), named("due-", st))
	}
	wantOrder(t, "expired in every state, soonest first", list(sandbox.States, 100), reversed(named("due-", sandbox.States...)))
	wantOrder(t, "expired in every other state", list(everyOther(), 100), reversed(named("due-", everyOther()...)))
	wantOrder(t, "expired in no state", list(nil, 100), nil)
	last := sandbox.States[len(sandbox.States)-1]
	wantOrder(t, "limit 1", list(sandbox.States, 1), named("due-", last))
}

// testListTimerOn seeds one sandbox in every state with auto-stop 2,
// auto-pause 4, auto-archive 0 and auto-delete -1, and checks that each timer reads its
// own setting against the least setting asked for, in the states asked
// for, ordered by the time it counts from.
func testListTimerOn(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	at := now()
	n := len(sandbox.States)
	for i, st := range sandbox.States {
		sb := inState(org, "sb-"+string(st), st)
		sb.AutoStopMinutes, sb.AutoArchiveMinutes, sb.AutoDeleteMinutes = 2, 0, -1
		sb.AutoPauseMinutes = 4
		// Activity runs one way through the states, updates the other, so
		// that each timer's order shows which time it reads.
		sb.LastActivityAt = at.Add(-time.Duration(i) * time.Second)
		sb.UpdatedAt = at.Add(-time.Duration(n-i) * time.Second)
		mustCreate(t, s, sb)
	}
	list := func(kind sandbox.TimerKind, states []sandbox.State, min int) []*sandbox.Sandbox {
		t.Helper()
		tm := sandbox.Timer{Kind: kind, States: states, MinMinutes: min}
		got, err := s.ListTimerOn(ctx, tm, 100)
		if err != nil {
			t.Fatalf("ListTimerOn(%+v): %v", tm, err)
		}
		return got
	}
	for _, st := range sandbox.States {
		one := []sandbox.State{st}
		for _, c := range []struct {
			kind sandbox.TimerKind
			min  int
			on   bool
		}{
			{sandbox.TimerAutoStop, 2, true}, {sandbox.TimerAutoStop, 3, false},
			{sandbox.TimerAutoPause, 4, true}, {sandbox.TimerAutoPause, 5, false},
			{sandbox.TimerAutoArchive, 0, true}, {sandbox.TimerAutoArchive, 1, false},
			{sandbox.TimerAutoDelete, -1, true}, {sandbox.TimerAutoDelete, 0, false},
		} {
			var want []string
			if c.on {
				want = named("sb-", st)
			}
			wantOrder(t, fmt.Sprintf("%s from %d in %s", c.kind, c.min, st), list(c.kind, one, c.min), want)
		}
	}
	all := named("sb-", sandbox.States...)
	wantOrder(t, "auto-stop in every state, by last activity", list(sandbox.TimerAutoStop, sandbox.States, 1), reversed(all))
	wantOrder(t, "auto-pause in every state, by last activity", list(sandbox.TimerAutoPause, sandbox.States, 1), reversed(all))
	wantOrder(t, "auto-delete in every state, by last update", list(sandbox.TimerAutoDelete, sandbox.States, -1), all)
	wantOrder(t, "auto-stop in every other state", list(sandbox.TimerAutoStop, everyOther(), 1), reversed(named("sb-", everyOther()...)))
	wantOrder(t, "auto-stop in no state", list(sandbox.TimerAutoStop, nil, 1), nil)
	if got, err := s.ListTimerOn(ctx, sandbox.Timer{Kind: sandbox.TimerAutoStop, States: sandbox.States, MinMinutes: 1}, 2); err != nil || len(got) != 2 {
		t.Fatalf("limit 2 gave %v, %v", names(got), err)
	}
}

// testListTimerDue seeds, in every state, a sandbox whose auto-stop (2,
// counted from its last activity 2 s ago) and auto-archive (5, from its
// last update 5 s ago) run out exactly now and whose auto-delete (6) runs
// out a second later, with one interval minute lasting a second; and one
// with every timer at a setting below the usual "on" and old times.
func testListTimerDue(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	at := now()
	for _, st := range sandbox.States {
		sb := inState(org, "due-"+string(st), st)
		sb.AutoStopMinutes, sb.AutoArchiveMinutes, sb.AutoDeleteMinutes = 2, 5, 6
		sb.LastActivityAt, sb.UpdatedAt = at.Add(-2*time.Second), at.Add(-5*time.Second)
		mustCreate(t, s, sb)
		off := inState(org, "off-"+string(st), st)
		off.AutoStopMinutes, off.AutoArchiveMinutes, off.AutoDeleteMinutes = 0, 0, -1
		off.LastActivityAt, off.UpdatedAt = at.Add(-time.Hour), at.Add(-time.Hour)
		mustCreate(t, s, off)
	}
	list := func(kind sandbox.TimerKind, states []sandbox.State, min int, at time.Time, minute time.Duration) []*sandbox.Sandbox {
		t.Helper()
		q := sandbox.TimerQuery{Timer: sandbox.Timer{Kind: kind, States: states, MinMinutes: min}, Now: at, Minute: minute, Limit: 100}
		got, err := s.ListTimerDue(ctx, q)
		if err != nil {
			t.Fatalf("ListTimerDue(%+v): %v", q, err)
		}
		return got
	}
	sec, ms := time.Second, time.Millisecond
	for _, st := range sandbox.States {
		one := []sandbox.State{st}
		due, off := named("due-", st), named("off-", st)
		for _, c := range []struct {
			what   string
			kind   sandbox.TimerKind
			min    int
			at     time.Time
			minute time.Duration
			want   []string
		}{
			{"auto-stop at its deadline", sandbox.TimerAutoStop, 1, at, sec, due},
			{"auto-stop a millisecond early", sandbox.TimerAutoStop, 1, at.Add(-ms), sec, nil},
			{"auto-stop with longer minutes", sandbox.TimerAutoStop, 1, at, 2 * sec, nil},
			{"auto-archive at its deadline", sandbox.TimerAutoArchive, 1, at, sec, due},
			{"auto-archive a millisecond early", sandbox.TimerAutoArchive, 1, at.Add(-ms), sec, nil},
			{"auto-delete a second early", sandbox.TimerAutoDelete, 0, at, sec, nil},
			{"auto-delete at its deadline", sandbox.TimerAutoDelete, 0, at.Add(sec), sec, due},
			{"auto-stop 0 counted as on", sandbox.TimerAutoStop, 0, at, sec, append(off, due...)},
			{"auto-delete -1 counted as on", sandbox.TimerAutoDelete, -1, at.Add(sec), sec, append(off, due...)},
		} {
			wantOrder(t, c.what+" in "+string(st), list(c.kind, one, c.min, c.at, c.minute), c.want)
		}
	}
	wantNames(t, "auto-archive due in every state", list(sandbox.TimerAutoArchive, sandbox.States, 1, at, sec), named("due-", sandbox.States...)...)
	wantNames(t, "auto-archive due in every other state", list(sandbox.TimerAutoArchive, everyOther(), 1, at, sec), named("due-", everyOther()...)...)
	wantOrder(t, "auto-archive due in no state", list(sandbox.TimerAutoArchive, nil, 1, at, sec), nil)
}

// testListStale seeds, in every state, a sandbox last updated long ago
// (the i-th state's i seconds longer), one updated exactly at the cutoff
// and one updated now: only the first is stale, in any state asked for.
func testListStale(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	at := now()
	cutoff := at.Add(-time.Minute)
	for i, st := range sandbox.States {
		for _, sd := range []struct {
			prefix  string
			updated time.Time
		}{{"old-", cutoff.Add(-time.Duration(i+1) * time.Second)}, {"edge-", cutoff}, {"fresh-", at}} {
			sb := inState(org, sd.prefix+string(st), st)
			sb.UpdatedAt = sd.updated
			mustCreate(t, s, sb)
		}
	}
	list := func(states []sandbox.State, limit int) []*sandbox.Sandbox {
		t.Helper()
		got, err := s.ListStale(ctx, sandbox.StaleQuery{States: states, Before: cutoff, Limit: limit})
		if err != nil {
			t.Fatalf("ListStale(%v): %v", states, err)
		}
		return got
	}
	for _, st := range sandbox.States {
		wantOrder(t, "stale in "+string(st), list([]sandbox.State{st}, 100), named("old-", st))
	}
	wantOrder(t, "stale in every state, oldest first", list(sandbox.States, 100), reversed(named("old-", sandbox.States...)))
	wantOrder(t, "stale in every other state", list(everyOther(), 100), reversed(named("old-", everyOther()...)))
	wantOrder(t, "stale in no state", list(nil, 100), nil)
	last := sandbox.States[len(sandbox.States)-1]
	wantOrder(t, "limit 1", list(sandbox.States, 1), named("old-", last))
}

func testAppendEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	sb := mustCreate(t, s, newSandbox(newOrg(), "web"))
	version := sb.Version
	ev := sandbox.Event{SandboxID: sb.ID, Type: "archive", Cause: "auto-archive", Message: "packed 3 MB", Time: now()}
	if err := s.AppendEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListEvents(ctx, sb.ID)
	if err != nil || len(evs) != 2 || evs[1].Message != "packed 3 MB" || evs[1].Cause != "auto-archive" {
		t.Fatalf("events after append: %+v %v", evs, err)
	}
	if got := mustGet(t, s, sb.OrganizationID, sb.ID); got.Version != version {
		t.Fatalf("append changed the version %d -> %d", version, got.Version)
	}
	ev.SandboxID = "sbx_missing"
	if err := s.AppendEvent(ctx, ev); !isNotFound(err) {
		t.Fatalf("append to a missing sandbox: %v", err)
	}
}

func testOrgSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	got, err := s.GetOrgSettings(ctx, org)
	if err != nil || got.AutoStopMinutes != nil || got.AutoPauseMinutes != nil || got.TimeoutSeconds != nil || got.OrganizationID != org {
		t.Fatalf("unset settings: %+v %v", got, err)
	}
	stop, pause, del := 15, 7, -1
	timeout := int64(600)
	gvisor, noPools := "gvisor", false
	set := &sandbox.OrgSettings{OrganizationID: org, TimeoutSeconds: &timeout, AutoStopMinutes: &stop, AutoPauseMinutes: &pause,
		AutoDeleteMinutes: &del, DefaultRuntime: &gvisor, UsePools: &noPools, UpdatedAt: now()}
	if err := s.PutOrgSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetOrgSettings(ctx, org)
	if err != nil || *got.TimeoutSeconds != 600 || *got.AutoStopMinutes != 15 || got.AutoPauseMinutes == nil || *got.AutoPauseMinutes != 7 ||
		*got.AutoDeleteMinutes != -1 || got.AutoArchiveMinutes != nil ||
		got.DefaultRuntime == nil || *got.DefaultRuntime != "gvisor" || got.UsePools == nil || *got.UsePools {
		t.Fatalf("settings read back: %+v %v", got, err)
	}
	set.AutoStopMinutes, set.AutoPauseMinutes = nil, nil
	if err := s.PutOrgSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetOrgSettings(ctx, org); got.AutoStopMinutes != nil || got.AutoPauseMinutes != nil {
		t.Fatalf("cleared fields read back: %+v", got)
	}
	if other, _ := s.GetOrgSettings(ctx, newOrg()); other.TimeoutSeconds != nil {
		t.Fatal("settings leaked to another organisation")
	}
}
