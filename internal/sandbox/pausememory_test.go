package sandbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// pauseRig is a service and reconciler over SQLite and rt, on a clock
// the test moves.
type pauseRig struct {
	t   *testing.T
	st  *sqlite.Store
	rt  runtime.Runtime
	clk *clock
	svc *sandbox.Service
	rec *sandbox.Reconciler
}

func newPauseRig(t *testing.T, rt runtime.Runtime, tweak func(*sandbox.Config)) *pauseRig {
	t.Helper()
	cfg := sandbox.DefaultConfig()
	cfg.Automation.Interval = time.Second
	if tweak != nil {
		tweak(&cfg)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	r := &pauseRig{t: t, st: st, rt: rt, clk: &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if r.svc, err = sandbox.NewService(cfg, st, rt, sandbox.WithLogger(log), sandbox.WithClock(r.clk.Now)); err != nil {
		t.Fatal(err)
	}
	r.rec = r.svc.NewReconciler()
	t.Cleanup(func() { r.rec.Wait(); r.svc.Close(); st.Close() })
	return r
}

func (r *pauseRig) create(req sandbox.CreateRequest) *sandbox.Sandbox {
	r.t.Helper()
	req.OrganizationID, req.Wait = org, true
	sb, err := r.svc.Create(context.Background(), req)
	if err != nil {
		r.t.Fatal(err)
	}
	return sb
}

func (r *pauseRig) pause(id string, mem sandbox.PauseMemory) (*sandbox.Sandbox, error) {
	return r.svc.Act(context.Background(), org, id, sandbox.ActionPause, sandbox.ActOptions{Wait: true, Memory: mem})
}

func (r *pauseRig) get(id string) *sandbox.Sandbox {
	r.t.Helper()
	sb, err := r.svc.Get(context.Background(), org, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return sb
}

// memoryEvents returns the messages of id's memory events with cause.
func (r *pauseRig) memoryEvents(id, cause string) []string {
	r.t.Helper()
	evs, err := r.st.ListEvents(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Type == sandbox.EventMemory && e.Cause == cause {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestPauseReleaseAndResume(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, nil)
	sb := r.create(sandbox.CreateRequest{})
	got, err := r.pause(sb.ID, sandbox.PauseRelease)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != sandbox.StatePaused || got.Pause == nil || got.Pause.Memory != sandbox.MemoryOnDisk ||
		got.Pause.SizeBytes != fakeruntime.ImageSize || !rt.OnDisk(sb.ID) {
		t.Fatalf("after pause(release): %+v %+v, on disk %v", got, got.Pause, rt.OnDisk(sb.ID))
	}
	stored := r.get(sb.ID)
	if stored.Pause == nil || *stored.Pause != *got.Pause {
		t.Fatalf("stored pause %+v, answered %+v", stored.Pause, got.Pause)
	}
	if msgs := r.memoryEvents(sb.ID, sandbox.CauseUser); len(msgs) != 1 || !strings.Contains(msgs[0], "to disk") {
		t.Fatalf("memory events %q", msgs)
	}
	// Pausing again with release is a no-op: it is on disk already.
	if again, err := r.pause(sb.ID, sandbox.PauseRelease); err != nil || again.Version != got.Version {
		t.Fatalf("second pause(release): %+v %v", again, err)
	}
	res, err := r.svc.Act(context.Background(), org, sb.ID, sandbox.ActionResume, sandbox.ActOptions{Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != sandbox.StateRunning || res.Pause != nil || rt.OnDisk(sb.ID) {
		t.Fatalf("after resume: %+v pause %+v", res, res.Pause)
	}
	if !strings.Contains(strings.Join(rt.Calls, ","), "restore "+sb.ID+",resume "+sb.ID) {
		t.Fatalf("resume did not restore then thaw: %v", rt.Calls)
	}
}

func TestPauseKeepThenReleaseByHand(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, nil)
	sb := r.create(sandbox.CreateRequest{})
	got, err := r.pause(sb.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Pause == nil || got.Pause.Memory != sandbox.MemoryResident || got.Pause.ReleaseAt != nil || rt.OnDisk(sb.ID) {
		t.Fatalf("pause without a mode and no default: %+v", got.Pause)
	}
	if got, err = r.pause(sb.ID, sandbox.PauseRelease); err != nil {
		t.Fatal(err)
	}
	if got.State != sandbox.StatePaused || got.Pause.Memory != sandbox.MemoryOnDisk || !rt.OnDisk(sb.ID) {
		t.Fatalf("pause(release) of a sandbox paused in memory: %+v %+v", got, got.Pause)
	}
	stopped, err := r.svc.Act(context.Background(), org, sb.ID, sandbox.ActionStop, sandbox.ActOptions{Wait: true})
	if err != nil || stopped.Pause != nil || rt.OnDisk(sb.ID) {
		t.Fatalf("stop of a sandbox on disk: %+v %v, on disk %v", stopped, err, rt.OnDisk(sb.ID))
	}
}

// TestTieredPause: a sandbox paused in memory moves to disk once its
// delay has passed (its own, else its organisation's, else the
// server's), not before, and the event says the tiered pause did it.
func TestTieredPause(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, func(c *sandbox.Config) { c.DefaultPauseReleaseAfter = time.Hour })
	own := r.create(sandbox.CreateRequest{PauseReleaseAfterSeconds: ptr(int64(30))})
	never := r.create(sandbox.CreateRequest{PauseReleaseAfterSeconds: ptr(int64(0))})
	server := r.create(sandbox.CreateRequest{})
	for _, sb := range []*sandbox.Sandbox{own, never, server} {
		if _, err := r.pause(sb.ID, sandbox.PauseKeep); err != nil {
			t.Fatal(err)
		}
	}
	if at := r.get(own.ID).Pause.ReleaseAt; at == nil || !at.Equal(r.clk.Now().Add(30*time.Second)) {
		t.Fatalf("release time %v", at)
	}
	pass := func() { r.rec.Pass(context.Background()); r.rec.Wait() }
	r.clk.Advance(29 * time.Second)
	pass()
	if rt.OnDisk(own.ID) {
		t.Fatal("moved to disk before its delay")
	}
	r.clk.Advance(time.Second)
	pass()
	got := r.get(own.ID)
	if got.State != sandbox.StatePaused || got.Pause.Memory != sandbox.MemoryOnDisk || !rt.OnDisk(own.ID) {
		t.Fatalf("after its delay: %+v %+v", got, got.Pause)
	}
	if msgs := r.memoryEvents(own.ID, sandbox.CauseTieredPause); len(msgs) != 1 {
		t.Fatalf("tiered pause events %q", msgs)
	}
	if rt.OnDisk(server.ID) || rt.OnDisk(never.ID) {
		t.Fatal("others moved with the first")
	}
	r.clk.Advance(time.Hour)
	pass()
	if !rt.OnDisk(server.ID) || rt.OnDisk(never.ID) {
		t.Fatalf("after the server's delay: server's on disk %v, never's %v", rt.OnDisk(server.ID), rt.OnDisk(never.ID))
	}
	// The organisation's setting wins over the server's.
	if err := r.svc.SetOrgSettings(context.Background(), &sandbox.OrgSettings{OrganizationID: org, PauseReleaseAfterSeconds: ptr(int64(5))}); err != nil {
		t.Fatal(err)
	}
	orgs := r.create(sandbox.CreateRequest{})
	if _, err := r.pause(orgs.ID, ""); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(5 * time.Second)
	pass()
	if !rt.OnDisk(orgs.ID) {
		t.Fatal("the organisation's delay did not apply")
	}
}

// TestReleaseFailureKeepsPaused: a checkpoint that fails leaves the
// sandbox paused in memory with the reason in its events; the tiered
// pause does not try again.
func TestReleaseFailureKeepsPaused(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, nil)
	sb := r.create(sandbox.CreateRequest{PauseReleaseAfterSeconds: ptr(int64(1))})
	rt.FailNext("checkpoint", errors.New("criu: dump failed"))
	got, err := r.pause(sb.ID, sandbox.PauseRelease)
	if err == nil || !strings.Contains(err.Error(), "dump failed") {
		t.Fatalf("failed release answered %v", err)
	}
	if got == nil || got.State != sandbox.StatePaused || got.Pause.Memory != sandbox.MemoryResident {
		t.Fatalf("after a failed release: %+v", got)
	}
	if msgs := r.memoryEvents(sb.ID, sandbox.CauseUser); len(msgs) != 1 || !strings.Contains(msgs[0], "dump failed") {
		t.Fatalf("memory events %q", msgs)
	}
	r.clk.Advance(time.Minute)
	r.rec.Pass(context.Background())
	r.rec.Wait()
	if rt.OnDisk(sb.ID) {
		t.Fatal("the tiered pause retried a failed checkpoint")
	}
	if res, err := r.svc.Act(context.Background(), org, sb.ID, sandbox.ActionResume, sandbox.ActOptions{Wait: true}); err != nil || res.State != sandbox.StateRunning {
		t.Fatalf("resume after a failed release: %+v %v", res, err)
	}
}

// dyingCheckpoint is a checkpointing fake whose next checkpoint fails
// because the sandbox's processes died under it.
type dyingCheckpoint struct{ *fakeruntime.Checkpointing }

func (d dyingCheckpoint) Checkpoint(ctx context.Context, id string) (int64, error) {
	d.Set(id, runtime.StateStopped)
	return 0, errors.New("connecting to control server: connection refused")
}

// TestReleaseThatEndsTheSandbox: a checkpoint that fails because the
// sandbox died under it is not a sandbox paused in memory: the pause is
// answered with the error and the sandbox settles in error with the
// runtime's reason, as recovery would find it.
func TestReleaseThatEndsTheSandbox(t *testing.T) {
	rt := dyingCheckpoint{fakeruntime.NewCheckpointing()}
	r := newPauseRig(t, rt, nil)
	sb := r.create(sandbox.CreateRequest{})
	got, err := r.pause(sb.ID, sandbox.PauseRelease)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("release that ended the sandbox answered %v", err)
	}
	if strings.Contains(err.Error(), "memory stays resident") {
		t.Fatalf("the answer claims memory is kept: %v", err)
	}
	if got == nil || got.State != sandbox.StateError || !strings.Contains(got.StateReason, "exited with status 137") {
		t.Fatalf("after a release that ended the sandbox: %+v", got)
	}
	if msgs := r.memoryEvents(sb.ID, sandbox.CauseUser); len(msgs) != 1 || !strings.Contains(msgs[0], "the sandbox ended") {
		t.Fatalf("memory events %q", msgs)
	}
}

// TestReleaseWithoutCheckpointer: asking a runtime that cannot
// checkpoint to release memory is a 400 on the memory field that says
// why, and nothing changes; a server default of release falls back to
// keep there.
func TestReleaseWithoutCheckpointer(t *testing.T) {
	r := newPauseRig(t, fakeruntime.New(), func(c *sandbox.Config) { c.DefaultPauseMemory = sandbox.PauseRelease })
	sb := r.create(sandbox.CreateRequest{})
	_, err := r.pause(sb.ID, sandbox.PauseRelease)
	var fe *errdefs.FieldError
	if !errors.As(err, &fe) || fe.Field != "memory" || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("release on a runtime without checkpoints: %v", err)
	}
	if st := r.get(sb.ID).State; st != sandbox.StateRunning {
		t.Fatalf("refused release changed the state to %s", st)
	}
	got, err := r.pause(sb.ID, "")
	if err != nil || got.Pause == nil || got.Pause.Memory != sandbox.MemoryResident {
		t.Fatalf("default release without checkpoints: %+v %v", got, err)
	}
	if _, err := r.pause(sb.ID, "swap"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("unknown memory mode: %v", err)
	}
}

// TestReleaseRefusedForSandboxsOwnRuntime: with two runtimes, only one of
// which checkpoints, a release for a sandbox on the other is refused
// before the freeze (a 400 on memory), not after it.
func TestReleaseRefusedForSandboxsOwnRuntime(t *testing.T) {
	var r *pauseRig
	m, err := runtime.NewMulti(map[string]runtime.Runtime{"oci": fakeruntime.New(), "gvisor": fakeruntime.NewCheckpointing()},
		func(ctx context.Context, id string) (string, error) {
			sb, err := r.st.GetSandboxByID(ctx, id)
			if err != nil {
				return "", err
			}
			return sandbox.RuntimeOf(sb), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	r = newPauseRig(t, m, func(c *sandbox.Config) { c.Runtimes, c.DefaultRuntime = []string{"gvisor", "oci"}, "oci" })
	sb := r.create(sandbox.CreateRequest{Runtime: "oci"})
	_, err = r.pause(sb.ID, sandbox.PauseRelease)
	var fe *errdefs.FieldError
	if !errors.As(err, &fe) || fe.Field != "memory" {
		t.Fatalf("release of an oci sandbox beside a checkpointing gvisor: %v, want a 400 on memory", err)
	}
	if st := r.get(sb.ID).State; st != sandbox.StateRunning {
		t.Fatalf("the refused release left the sandbox %s, want running", st)
	}
	g := r.create(sandbox.CreateRequest{Runtime: "gvisor"})
	if got, err := r.pause(g.ID, sandbox.PauseRelease); err != nil || got.Pause == nil || got.Pause.Memory != sandbox.MemoryOnDisk {
		t.Fatalf("release of a gvisor sandbox: %+v %v", got, err)
	}
}
