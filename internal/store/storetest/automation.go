package storetest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// automationTests cover the reconciler's due-work lookups.
var automationTests = []test{
	{"ListExpired", testListExpired},
	{"ListAutoStop", testListAutoStop},
	{"ListStoppedDue", testListStoppedDue},
	{"ListStale", testListStale},
	{"AppendEvent", testAppendEvent},
	{"OrgSettings", testOrgSettings},
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

func testListExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	at := now()
	mk := func(name string, exp *time.Time, st sandbox.State) {
		sb := newSandbox(org, name)
		sb.ExpiresAt = exp
		mustCreate(t, s, sb)
		if st != sandbox.StateRunning {
			setState(t, s, sb, st)
		}
	}
	past, future := at.Add(-time.Second), at.Add(time.Hour)
	mk("past", &past, sandbox.StateRunning)
	mk("exact", &at, sandbox.StatePaused)
	mk("future", &future, sandbox.StateRunning)
	mk("never", nil, sandbox.StateRunning)
	mk("deleting", &past, sandbox.StateDeleting)
	mk("deleted", &past, sandbox.StateDeleted)
	got, err := s.ListExpired(ctx, at, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "expired", got, "past", "exact")
	if names(got)[0] != "past" {
		t.Fatalf("expired not soonest first: %v", names(got))
	}
	if got, _ := s.ListExpired(ctx, at, 1); len(got) != 1 {
		t.Fatalf("limit 1 gave %d", len(got))
	}
}

func testListAutoStop(t *testing.T, s store.Store) {
	org := newOrg()
	mk := func(name string, minutes int, st sandbox.State) {
		sb := newSandbox(org, name)
		sb.AutoStopMinutes = minutes
		mustCreate(t, s, sb)
		if st != sandbox.StateRunning {
			setState(t, s, sb, st)
		}
	}
	mk("on", 5, sandbox.StateRunning)
	mk("off", 0, sandbox.StateRunning)
	mk("paused", 5, sandbox.StatePaused)
	got, err := s.ListAutoStop(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "auto-stop", got, "on")
}

func testListStoppedDue(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	at := now()
	mk := func(name string, st sandbox.State, ago time.Duration, archive, del int) {
		sb := newSandbox(org, name)
		sb.AutoArchiveMinutes, sb.AutoDeleteMinutes = archive, del
		mustCreate(t, s, sb)
		sb.UpdatedAt = at.Add(-ago)
		setState(t, s, sb, st)
	}
	unit := time.Second // one "minute" lasts a second
	mk("delete-now", sandbox.StateStopped, 0, 0, 0)
	mk("delete-due", sandbox.StateStopped, 3*time.Second, 0, 2)
	mk("delete-later", sandbox.StateStopped, time.Second, 0, 2)
	mk("delete-never", sandbox.StateStopped, time.Hour, 0, -1)
	mk("archived-delete-due", sandbox.StateArchived, 3*time.Second, 0, 2)
	mk("archive-due", sandbox.StateStopped, 3*time.Second, 2, -1)
	mk("archive-later", sandbox.StateStopped, time.Second, 2, -1)
	mk("archived-no-rearchive", sandbox.StateArchived, time.Hour, 2, -1)
	mk("running", sandbox.StateRunning, time.Hour, 1, 0)
	got, err := s.ListStoppedDue(ctx, at, unit, true, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "due with archive", got, "delete-now", "delete-due", "archived-delete-due", "archive-due")
	got, err = s.ListStoppedDue(ctx, at, unit, false, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "due without archive", got, "delete-now", "delete-due", "archived-delete-due")
}

func testListStale(t *testing.T, s store.Store) {
	org := newOrg()
	at := now()
	mk := func(name string, st sandbox.State, ago time.Duration) {
		sb := newSandbox(org, name)
		mustCreate(t, s, sb)
		sb.UpdatedAt = at.Add(-ago)
		setState(t, s, sb, st)
	}
	mk("stuck-stopping", sandbox.StateStopping, time.Hour)
	mk("stuck-creating", sandbox.StateCreating, time.Hour)
	mk("fresh-starting", sandbox.StateStarting, 0)
	mk("old-running", sandbox.StateRunning, time.Hour)
	got, err := s.ListStale(context.Background(), at.Add(-time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "stale", got, "stuck-stopping", "stuck-creating")
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
	if err != nil || got.AutoStopMinutes != nil || got.TimeoutSeconds != nil || got.OrganizationID != org {
		t.Fatalf("unset settings: %+v %v", got, err)
	}
	stop, del := 15, -1
	timeout := int64(600)
	set := &sandbox.OrgSettings{OrganizationID: org, TimeoutSeconds: &timeout, AutoStopMinutes: &stop, AutoDeleteMinutes: &del, UpdatedAt: now()}
	if err := s.PutOrgSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetOrgSettings(ctx, org)
	if err != nil || *got.TimeoutSeconds != 600 || *got.AutoStopMinutes != 15 || *got.AutoDeleteMinutes != -1 || got.AutoArchiveMinutes != nil {
		t.Fatalf("settings read back: %+v %v", got, err)
	}
	set.AutoStopMinutes = nil
	if err := s.PutOrgSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetOrgSettings(ctx, org); got.AutoStopMinutes != nil {
		t.Fatalf("cleared field read back as %d", *got.AutoStopMinutes)
	}
	if other, _ := s.GetOrgSettings(ctx, newOrg()); other.TimeoutSeconds != nil {
		t.Fatal("settings leaked to another organisation")
	}
}
