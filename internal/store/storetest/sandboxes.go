package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// sandboxTests cover create, the lookups, and the records' round trip.
var sandboxTests = []test{
	{"CreateGetByIDAndName", testCreateGet},
	{"GetMissing", testGetMissing},
	{"CrossOrgIsolation", testCrossOrg},
	{"DuplicateNameAndID", testDuplicate},
	{"NameReuseAfterDelete", testNameReuse},
	{"IDWinsOverName", testIDWinsOverName},
	{"NullableFields", testNullable},
	{"EmptyCollections", testEmptyCollections},
	{"Touch", testTouch},
	{"Purge", testPurge},
}

func testCreateGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	want := newSandbox(org, "web")
	mustCreate(t, s, want)

	byID := mustGet(t, s, org, want.ID)
	wantSandbox(t, "by id", byID, want)
	byName := mustGet(t, s, org, "web")
	wantSandbox(t, "by name", byName, want)
	global, err := s.GetSandboxByID(ctx, want.ID)
	if err != nil {
		t.Fatalf("GetSandboxByID: %v", err)
	}
	wantSandbox(t, "GetSandboxByID", global, want)

	// The stored record is independent of the caller's maps and slices.
	want.Env["A"] = "changed"
	want.Entrypoint[0] = "changed"
	if got := mustGet(t, s, org, want.ID); got.Env["A"] != "1" || got.Entrypoint[0] != "/bin/sh" {
		t.Fatalf("stored record aliases the caller's values: %+v", got)
	}

	evs, err := s.ListEvents(ctx, want.ID)
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if len(evs) != 1 || evs[0].Type != "state" || evs[0].To != sandbox.StateCreating ||
		evs[0].Cause != "user" || evs[0].Message != "created" || evs[0].SandboxID != want.ID ||
		evs[0].ID == 0 || evs[0].Time.IsZero() {
		t.Fatalf("events after create = %+v, want the one create event with an ID and a time", evs)
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	mustCreate(t, s, newSandbox(org, "web"))
	_, err := s.GetSandbox(ctx, org, "nope")
	wantErr(t, "GetSandbox unknown", err, errdefs.ErrNotFound)
	_, err = s.GetSandboxByID(ctx, "sbx_nope")
	wantErr(t, "GetSandboxByID unknown", err, errdefs.ErrNotFound)
	_, err = s.GetSandbox(ctx, org, "")
	wantErr(t, "GetSandbox empty", err, errdefs.ErrNotFound)
}

func testCrossOrg(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := newOrg(), newOrg()
	sa := mustCreate(t, s, newSandbox(a, "web"))

	for _, key := range []string{sa.ID, "web"} {
		_, err := s.GetSandbox(ctx, b, key)
		wantErr(t, "other org's GetSandbox("+key+")", err, errdefs.ErrNotFound)
	}
	items, total, err := s.ListSandboxes(ctx, sandbox.ListFilter{OrganizationID: b, Page: 1, PageSize: 10})
	if err != nil || total != 0 || len(items) != 0 {
		t.Fatalf("other org's list = %v, %d, %v; want empty", names(items), total, err)
	}

	// An update claiming another organisation is refused as not found and
	// changes nothing.
	forged := mustGet(t, s, a, sa.ID)
	forged.OrganizationID = b
	forged.State = sandbox.StateStopped
	err = s.UpdateSandbox(ctx, forged, sandbox.Event{Type: "state", To: sandbox.StateStopped})
	wantErr(t, "update as other org", err, errdefs.ErrNotFound)
	got := mustGet(t, s, a, sa.ID)
	if got.State != sandbox.StateRunning || got.Version != sa.Version {
		t.Fatalf("forged update changed the record: state %s version %d", got.State, got.Version)
	}
	if evs, _ := s.ListEvents(ctx, sa.ID); len(evs) != 1 {
		t.Fatalf("forged update appended an event: %+v", evs)
	}

	// The same name in another organisation is a different sandbox.
	sb := mustCreate(t, s, newSandbox(b, "web"))
	if got := mustGet(t, s, b, "web"); got.ID != sb.ID {
		t.Fatalf("org b's web = %s, want %s", got.ID, sb.ID)
	}
	if got := mustGet(t, s, a, "web"); got.ID != sa.ID {
		t.Fatalf("org a's web = %s, want %s", got.ID, sa.ID)
	}
}

func testDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	first := mustCreate(t, s, newSandbox(org, "web"))

	dup := newSandbox(org, "web")
	err := s.CreateSandbox(ctx, dup, createEvent())
	wantErr(t, "duplicate name", err, errdefs.ErrAlreadyExists)
	if _, err := s.GetSandboxByID(ctx, dup.ID); !isNotFound(err) {
		t.Fatalf("refused create left a record: %v", err)
	}
	if evs, _ := s.ListEvents(ctx, dup.ID); len(evs) != 0 {
		t.Fatalf("refused create left events: %+v", evs)
	}

	sameID := newSandbox(org, "other")
	sameID.ID = first.ID
	err = s.CreateSandbox(ctx, sameID, createEvent())
	wantErr(t, "duplicate id", err, errdefs.ErrAlreadyExists)
	if got := mustGet(t, s, org, first.ID); got.Name != "web" {
		t.Fatalf("duplicate id overwrote the record: name %q", got.Name)
	}
}

func testNameReuse(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	old := mustCreate(t, s, newSandbox(org, "web"))
	setState(t, s, old, sandbox.StateDeleted)

	// A deleted sandbox is found by ID, not by name.
	if got := mustGet(t, s, org, old.ID); got.State != sandbox.StateDeleted {
		t.Fatalf("deleted sandbox by id: state %s", got.State)
	}
	_, err := s.GetSandbox(ctx, org, "web")
	wantErr(t, "deleted sandbox by name", err, errdefs.ErrNotFound)

	fresh := mustCreate(t, s, newSandbox(org, "web"))
	if got := mustGet(t, s, org, "web"); got.ID != fresh.ID {
		t.Fatalf("web = %s, want the new sandbox %s", got.ID, fresh.ID)
	}
	if got := mustGet(t, s, org, old.ID); got.ID != old.ID {
		t.Fatalf("old id = %s", got.ID)
	}

	// Bringing the deleted record back while its name is taken is refused.
	old.State = sandbox.StateRunning
	err = s.UpdateSandbox(ctx, old, sandbox.Event{})
	wantErr(t, "revive into a taken name", err, errdefs.ErrAlreadyExists)

	// So is renaming onto a live name.
	other := mustCreate(t, s, newSandbox(org, "api"))
	other.Name = "web"
	err = s.UpdateSandbox(ctx, other, sandbox.Event{})
	wantErr(t, "rename onto a taken name", err, errdefs.ErrAlreadyExists)
}

func testIDWinsOverName(t *testing.T, s store.Store) {
	org := newOrg()
	x := mustCreate(t, s, newSandbox(org, "x"))
	y := mustCreate(t, s, newSandbox(org, x.ID)) // a name that is another sandbox's ID
	if got := mustGet(t, s, org, x.ID); got.ID != x.ID {
		t.Fatalf("GetSandbox(%s) = %s, want the sandbox with that ID", x.ID, got.ID)
	}
	if got := mustGet(t, s, org, y.ID); got.ID != y.ID {
		t.Fatalf("GetSandbox(%s) = %s", y.ID, got.ID)
	}
}

func testNullable(t *testing.T, s store.Store) {
	org := newOrg()
	unset := newSandbox(org, "unset")
	unset.TimeoutSeconds, unset.ExpiresAt, unset.StartedAt = nil, nil, nil
	mustCreate(t, s, unset)
	got := mustGet(t, s, org, unset.ID)
	if got.TimeoutSeconds != nil || got.ExpiresAt != nil || got.StartedAt != nil {
		t.Fatalf("nil fields came back set: %s", show(*got))
	}
	wantSandbox(t, "unset", got, unset)

	// Set them through an update, then clear them again.
	timeout := int64(0) // zero is a value, not absence
	expires := now().Add(30 * time.Minute)
	started := now()
	got.TimeoutSeconds, got.ExpiresAt, got.StartedAt = &timeout, &expires, &started
	mustUpdate(t, s, got, sandbox.Event{})
	set := mustGet(t, s, org, unset.ID)
	if set.TimeoutSeconds == nil || *set.TimeoutSeconds != 0 ||
		set.ExpiresAt == nil || !set.ExpiresAt.Equal(expires) ||
		set.StartedAt == nil || !set.StartedAt.Equal(started) {
		t.Fatalf("set fields: %s", show(*set))
	}
	set.TimeoutSeconds, set.ExpiresAt, set.StartedAt = nil, nil, nil
	mustUpdate(t, s, set, sandbox.Event{})
	cleared := mustGet(t, s, org, unset.ID)
	if cleared.TimeoutSeconds != nil || cleared.ExpiresAt != nil || cleared.StartedAt != nil {
		t.Fatalf("cleared fields came back set: %s", show(*cleared))
	}
}

func testEmptyCollections(t *testing.T, s store.Store) {
	org := newOrg()
	sb := newSandbox(org, "bare")
	sb.Entrypoint, sb.Env, sb.Metadata, sb.Network.AllowCIDRs = nil, nil, nil, nil
	sb.Resources = sandbox.Resources{}
	mustCreate(t, s, sb)
	got := mustGet(t, s, org, sb.ID)
	if len(got.Entrypoint) != 0 || len(got.Env) != 0 || len(got.Metadata) != 0 || len(got.Network.AllowCIDRs) != 0 {
		t.Fatalf("empty collections came back filled: %s", show(*got))
	}
	wantSandbox(t, "bare", got, sb)
}

func testTouch(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	sb := mustCreate(t, s, newSandbox(org, "web"))
	stale := mustGet(t, s, org, sb.ID)

	later := sb.LastActivityAt.Add(time.Minute)
	if err := s.TouchSandbox(ctx, sb.ID, later); err != nil {
		t.Fatalf("TouchSandbox: %v", err)
	}
	got := mustGet(t, s, org, sb.ID)
	if !got.LastActivityAt.Equal(later) || got.Version != sb.Version || !got.UpdatedAt.Equal(sb.UpdatedAt) {
		t.Fatalf("after touch: activity %v version %d updated %v; want %v, %d, %v",
			got.LastActivityAt, got.Version, got.UpdatedAt, later, sb.Version, sb.UpdatedAt)
	}
	if evs, _ := s.ListEvents(ctx, sb.ID); len(evs) != 1 {
		t.Fatalf("touch appended events: %+v", evs)
	}

	// Activity never moves back: not by an older touch...
	if err := s.TouchSandbox(ctx, sb.ID, sb.LastActivityAt); err != nil {
		t.Fatalf("TouchSandbox earlier: %v", err)
	}
	if got := mustGet(t, s, org, sb.ID); !got.LastActivityAt.Equal(later) {
		t.Fatalf("older touch moved activity back to %v", got.LastActivityAt)
	}
	// ...nor by an update of a copy read before the touch, which still wins
	// on its version because a touch is not a transition.
	stale.StateReason = "after touch"
	mustUpdate(t, s, stale, sandbox.Event{})
	if !stale.LastActivityAt.Equal(later) {
		t.Fatalf("UpdateSandbox left sb.LastActivityAt %v, want the stored %v", stale.LastActivityAt, later)
	}
	if got := mustGet(t, s, org, sb.ID); !got.LastActivityAt.Equal(later) || got.StateReason != "after touch" {
		t.Fatalf("update of a stale copy: activity %v reason %q", got.LastActivityAt, got.StateReason)
	}

	err := s.TouchSandbox(ctx, "sbx_nope", later)
	wantErr(t, "touch unknown", err, errdefs.ErrNotFound)
}

func testPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	live := mustCreate(t, s, newSandbox(org, "live"))
	gone := mustCreate(t, s, newSandbox(org, "gone"))
	setState(t, s, gone, sandbox.StateDeleted)

	// Purge keeps what was updated at or after the cut-off...
	n, err := s.PurgeDeleted(ctx, gone.UpdatedAt)
	if err != nil || n != 0 {
		t.Fatalf("PurgeDeleted(at its update) = %d, %v; want 0", n, err)
	}
	if _, err := s.GetSandboxByID(ctx, gone.ID); err != nil {
		t.Fatalf("purged too early: %v", err)
	}
	// ...and removes deleted records updated before it, with their events.
	n, err = s.PurgeDeleted(ctx, gone.UpdatedAt.Add(time.Millisecond))
	if err != nil || n != 1 {
		t.Fatalf("PurgeDeleted = %d, %v; want 1", n, err)
	}
	_, err = s.GetSandboxByID(ctx, gone.ID)
	wantErr(t, "purged sandbox", err, errdefs.ErrNotFound)
	if evs, err := s.ListEvents(ctx, gone.ID); err != nil || len(evs) != 0 {
		t.Fatalf("purged sandbox's events = %+v, %v", evs, err)
	}

	// Live sandboxes are never purged, however old.
	n, err = s.PurgeDeleted(ctx, time.Now().Add(24*time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("PurgeDeleted(future) = %d, %v; want 0", n, err)
	}
	mustGet(t, s, org, live.ID)
	if evs, _ := s.ListEvents(ctx, live.ID); len(evs) != 1 {
		t.Fatalf("live sandbox's events after purge: %+v", evs)
	}
}
