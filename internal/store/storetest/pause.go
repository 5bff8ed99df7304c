package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// testPauseMemory round-trips a paused sandbox's memory tier and the
// tiered pause's settings, and selects the sandboxes due to move to disk.
func testPauseMemory(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	at := now()
	due, later := at.Add(-time.Second), at.Add(time.Hour)
	after := int64(30)
	seed := []struct {
		name  string
		state sandbox.State
		pause *sandbox.PauseInfo
	}{
		{"due", sandbox.StatePaused, &sandbox.PauseInfo{Memory: sandbox.MemoryResident, Since: at, ReleaseAt: &due}},
		{"later", sandbox.StatePaused, &sandbox.PauseInfo{Memory: sandbox.MemoryResident, Since: at, ReleaseAt: &later}},
		{"never", sandbox.StatePaused, &sandbox.PauseInfo{Memory: sandbox.MemoryResident, Since: at}},
		{"ondisk", sandbox.StatePaused, &sandbox.PauseInfo{Memory: sandbox.MemoryOnDisk, Since: at, SizeBytes: 260 << 20, ReleaseAt: &due}},
		{"pausing", sandbox.StatePausing, &sandbox.PauseInfo{Memory: sandbox.MemoryResident, Since: at, ReleaseAt: &due}},
		{"running", sandbox.StateRunning, nil},
	}
	byName := map[string]*sandbox.Sandbox{}
	for _, sd := range seed {
		sb := inState(org, sd.name, sd.state)
		sb.Pause = sd.pause
		if sd.name == "due" {
			sb.PauseReleaseAfterSeconds = &after
		}
		if err := s.CreateSandbox(ctx, sb, createEvent()); err != nil {
			t.Fatal(err)
		}
		byName[sd.name] = sb
	}
	for name, sb := range byName {
		got, err := s.GetSandboxByID(ctx, sb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Pause == nil) != (sb.Pause == nil) || got.Pause != nil && !samePause(*got.Pause, *sb.Pause) {
			t.Fatalf("%s: pause read back %+v, wrote %+v", name, got.Pause, sb.Pause)
		}
		if (got.PauseReleaseAfterSeconds == nil) != (sb.PauseReleaseAfterSeconds == nil) {
			t.Fatalf("%s: pauseReleaseAfterSeconds read back %v", name, got.PauseReleaseAfterSeconds)
		}
	}
	if got, _ := s.GetSandboxByID(ctx, byName["due"].ID); *got.PauseReleaseAfterSeconds != 30 {
		t.Fatalf("pauseReleaseAfterSeconds read back %d", *got.PauseReleaseAfterSeconds)
	}
	list, err := s.ListPauseReleaseDue(ctx, sandbox.ExpiryQuery{States: []sandbox.State{sandbox.StatePaused}, Now: at, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "due to move to disk", list, "due")
	if list, _ := s.ListPauseReleaseDue(ctx, sandbox.ExpiryQuery{Now: at, Limit: 10}); len(list) != 0 {
		t.Fatalf("no states selected %v", names(list))
	}
	// Resumed: the pause is gone, and so is the sandbox from the lookup.
	sb := byName["due"]
	sb.State, sb.Pause = sandbox.StateRunning, nil
	if err := s.UpdateSandbox(ctx, sb, sandbox.Event{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSandboxByID(ctx, sb.ID); got.Pause != nil {
		t.Fatalf("cleared pause read back %+v", got.Pause)
	}
	if list, _ := s.ListPauseReleaseDue(ctx, sandbox.ExpiryQuery{States: []sandbox.State{sandbox.StatePaused}, Now: at, Limit: 10}); len(list) != 0 {
		t.Fatalf("after resume: %v", names(list))
	}

	release := sandbox.PauseRelease
	secs := int64(600)
	if err := s.PutOrgSettings(ctx, &sandbox.OrgSettings{OrganizationID: org, PauseMemory: &release, PauseReleaseAfterSeconds: &secs, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	o, err := s.GetOrgSettings(ctx, org)
	if err != nil || o.PauseMemory == nil || *o.PauseMemory != release || o.PauseReleaseAfterSeconds == nil || *o.PauseReleaseAfterSeconds != 600 {
		t.Fatalf("organisation pause settings read back %+v %v", o, err)
	}
}

func samePause(a, b sandbox.PauseInfo) bool {
	sameAt := (a.ReleaseAt == nil) == (b.ReleaseAt == nil) && (a.ReleaseAt == nil || a.ReleaseAt.Equal(*b.ReleaseAt))
	return a.Memory == b.Memory && a.Since.Equal(b.Since) && a.SizeBytes == b.SizeBytes && sameAt
}
