package sandbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// autoPauseRig is a pause rig whose interval minute lasts a second.
func autoPauseRig(t *testing.T, rt *fakeruntime.Checkpointing, mem sandbox.PauseMemory) *pauseRig {
	return newPauseRig(t, rt, func(c *sandbox.Config) {
		c.Automation.Minute = time.Second
		c.DefaultPauseMemory = mem
	})
}

// idlePasses runs n reconciler passes a second apart; the sandboxes in
// busy use most of a core meanwhile, the others almost nothing.
func (r *pauseRig) idlePasses(rt *fakeruntime.Checkpointing, n int, idle []string, busy ...string) {
	for i := 0; i < n; i++ {
		r.rec.Pass(context.Background())
		r.rec.Wait()
		r.clk.Advance(time.Second)
		for _, id := range busy {
			rt.AddCPU(id, 900*time.Millisecond)
		}
		for _, id := range idle {
			rt.AddCPU(id, time.Millisecond)
		}
	}
}

// stateEvents counts id's state events into to with cause.
func (r *pauseRig) stateEvents(id string, to sandbox.State, cause string) int {
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

// TestAutoPauseIdleButNotBusy: with the server's default pause releasing
// memory, an idle sandbox with auto-pause is paused onto disk by the
// reconciler; a busy one and one without auto-pause keep running.
func TestAutoPauseIdleButNotBusy(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := autoPauseRig(t, rt, sandbox.PauseRelease)
	idle := r.create(sandbox.CreateRequest{AutoPauseMinutes: ptr(3)})
	busy := r.create(sandbox.CreateRequest{AutoPauseMinutes: ptr(3)})
	never := r.create(sandbox.CreateRequest{})
	if idle.AutoPauseMinutes != 3 || r.get(idle.ID).AutoPauseMinutes != 3 {
		t.Fatalf("autoPauseMinutes not kept: %+v", r.get(idle.ID))
	}
	r.idlePasses(rt, 8, []string{idle.ID, never.ID}, busy.ID)
	got := r.get(idle.ID)
	if got.State != sandbox.StatePaused || got.Pause == nil || got.Pause.Memory != sandbox.MemoryOnDisk || !rt.OnDisk(idle.ID) {
		t.Fatalf("idle sandbox: %s %+v", got.State, got.Pause)
	}
	if n := r.stateEvents(idle.ID, sandbox.StatePausing, sandbox.CauseAutoPause); n != 1 {
		t.Fatalf("%d auto-pauses of the idle sandbox, want 1", n)
	}
	if st := r.get(busy.ID).State; st != sandbox.StateRunning {
		t.Fatalf("CPU-busy sandbox is %s", st)
	}
	if st := r.get(never.ID).State; st != sandbox.StateRunning {
		t.Fatalf("sandbox without auto-pause is %s", st)
	}
	// Once the busy one goes quiet it is paused too.
	r.idlePasses(rt, 6, []string{busy.ID})
	if st := r.get(busy.ID).State; st != sandbox.StatePaused {
		t.Fatalf("quiet sandbox is %s", st)
	}
}

// TestAutoPauseThenTieredPause: with the default pause keeping memory,
// an auto-paused sandbox stays resident until the tiered pause moves it
// to disk after its pauseReleaseAfterSeconds.
func TestAutoPauseThenTieredPause(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := autoPauseRig(t, rt, "")
	sb := r.create(sandbox.CreateRequest{AutoPauseMinutes: ptr(2), PauseReleaseAfterSeconds: ptr(int64(30))})
	r.idlePasses(rt, 5, []string{sb.ID})
	got := r.get(sb.ID)
	if got.State != sandbox.StatePaused || got.Pause == nil || got.Pause.Memory != sandbox.MemoryResident || rt.OnDisk(sb.ID) {
		t.Fatalf("auto-paused sandbox: %s %+v", got.State, got.Pause)
	}
	r.clk.Advance(30 * time.Second)
	r.rec.Pass(context.Background())
	r.rec.Wait()
	got = r.get(sb.ID)
	if got.State != sandbox.StatePaused || got.Pause.Memory != sandbox.MemoryOnDisk || !rt.OnDisk(sb.ID) {
		t.Fatalf("after the release delay: %s %+v", got.State, got.Pause)
	}
	if msgs := r.memoryEvents(sb.ID, sandbox.CauseTieredPause); len(msgs) != 1 {
		t.Fatalf("tiered pause events %q", msgs)
	}
}

// TestAutoPauseAndAutoStopShorterFirst: of auto-pause and auto-stop the
// shorter fires, and a sandbox auto-paused is then left paused, not
// stopped by the longer auto-stop.
func TestAutoPauseAndAutoStopShorterFirst(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := autoPauseRig(t, rt, "")
	pauses := r.create(sandbox.CreateRequest{AutoPauseMinutes: ptr(2), AutoStopMinutes: ptr(4)})
	stops := r.create(sandbox.CreateRequest{AutoPauseMinutes: ptr(4), AutoStopMinutes: ptr(2)})
	r.idlePasses(rt, 12, []string{pauses.ID, stops.ID})
	if st := r.get(pauses.ID).State; st != sandbox.StatePaused {
		t.Fatalf("sandbox with the shorter auto-pause is %s", st)
	}
	if n := r.stateEvents(pauses.ID, sandbox.StateStopping, sandbox.CauseAutoStop); n != 0 {
		t.Fatalf("auto-paused sandbox was auto-stopped %d times", n)
	}
	if st := r.get(stops.ID).State; st != sandbox.StateStopped {
		t.Fatalf("sandbox with the shorter auto-stop is %s", st)
	}
	if n := r.stateEvents(stops.ID, sandbox.StatePausing, sandbox.CauseAutoPause); n != 0 {
		t.Fatalf("auto-stopped sandbox was auto-paused %d times", n)
	}
}

// setOrg changes the organisation's settings with change and stores them
// through the service, which validates them.
func (r *pauseRig) setOrg(change func(*sandbox.OrgSettings)) error {
	r.t.Helper()
	o, err := r.svc.OrgSettings(context.Background(), org)
	if err != nil {
		r.t.Fatal(err)
	}
	change(o)
	return r.svc.SetOrgSettings(context.Background(), o)
}

// TestAutoPauseDefaults: a create that names no autoPauseMinutes takes
// its organisation's defaultAutoPauseMinutes, else the server's; its own
// value wins, and an organisation's 0 turns the server's default off. A
// negative default is refused, naming the field.
func TestAutoPauseDefaults(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, func(c *sandbox.Config) { c.DefaultAutoPauseMinutes = 5 })
	set := func(v *int) error { return r.setOrg(func(o *sandbox.OrgSettings) { o.AutoPauseMinutes = v }) }
	for _, c := range []struct {
		name     string
		org, req *int
		want     int
	}{
		{"server default", nil, nil, 5},
		{"organisation default", ptr(9), nil, 9},
		{"organisation off", ptr(0), nil, 0},
		{"request's own", ptr(9), ptr(2), 2},
	} {
		if err := set(c.org); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if sb := r.create(sandbox.CreateRequest{AutoPauseMinutes: c.req}); sb.AutoPauseMinutes != c.want || r.get(sb.ID).AutoPauseMinutes != c.want {
			t.Errorf("%s: autoPauseMinutes %d, want %d", c.name, sb.AutoPauseMinutes, c.want)
		}
	}
	var fe *errdefs.FieldError
	if err := set(ptr(-1)); !errors.As(err, &fe) || fe.Field != "defaultAutoPauseMinutes" {
		t.Fatalf("a negative organisation default: %v, want a 400 on defaultAutoPauseMinutes", err)
	}
	cfg := sandbox.DefaultConfig()
	cfg.DefaultAutoPauseMinutes = -1
	if err := cfg.Validate(); err == nil {
		t.Fatal("a negative server default passed Validate")
	}
}
