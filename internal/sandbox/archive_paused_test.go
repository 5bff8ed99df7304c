package sandbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// TestArchiveOfPausedOnDisk: a sandbox paused on disk is archived with
// its memory image (the working copy of both goes), stays paused on disk
// in the body while archived, and resume brings its files and image back
// and restores it. Paused in memory, it is refused with the choices; an
// archive of a stopped sandbox has nothing to resume.
func TestArchiveOfPausedOnDisk(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	st, archs := archiveRig(t)
	svc := archiveService(t, st, rt, archs)
	ctx := context.Background()
	act := func(id string, a sandbox.Action, mem sandbox.PauseMemory) (*sandbox.Sandbox, error) {
		return svc.Act(ctx, org, id, a, sandbox.ActOptions{Wait: true, Memory: mem})
	}
	create := func() *sandbox.Sandbox {
		sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: org, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		return sb
	}

	sb := create()
	rt.WriteDisk(sb.ID, []byte("files"))
	if _, err := act(sb.ID, sandbox.ActionPause, sandbox.PauseRelease); err != nil {
		t.Fatal(err)
	}
	got, err := act(sb.ID, sandbox.ActionArchive, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != sandbox.StateArchived || got.Pause == nil || got.Pause.Memory != sandbox.MemoryOnDisk {
		t.Fatalf("after archive: %+v %+v", got, got.Pause)
	}
	if _, ok := rt.Disk(sb.ID); ok || rt.OnDisk(sb.ID) {
		t.Fatal("the working copy of the files or the memory image is left after archive")
	}
	if got, err = act(sb.ID, sandbox.ActionResume, ""); err != nil {
		t.Fatal(err)
	}
	if got.State != sandbox.StateRunning || got.Pause != nil {
		t.Fatalf("after resume: %+v %+v", got, got.Pause)
	}
	if b, _ := rt.Disk(sb.ID); string(b) != "files" {
		t.Fatalf("files after resume: %q", b)
	}
	calls := strings.Join(rt.Calls, ",")
	if i, j := strings.Index(calls, "import "+sb.ID), strings.Index(calls, "restore "+sb.ID); i < 0 || j < i {
		t.Fatalf("resume did not import then restore: %s", calls)
	}

	// A restore that fails after the files came back: error, with the
	// reason and the files; start boots it fresh.
	failing := create()
	rt.WriteDisk(failing.ID, []byte("kept"))
	if _, err := act(failing.ID, sandbox.ActionPause, sandbox.PauseRelease); err != nil {
		t.Fatal(err)
	}
	if _, err := act(failing.ID, sandbox.ActionArchive, ""); err != nil {
		t.Fatal(err)
	}
	rt.FailNext("restore", errors.New("criu said no"))
	if _, err := act(failing.ID, sandbox.ActionResume, ""); err == nil {
		t.Fatal("resume with a failing restore succeeded")
	}
	if got := mustGet(t, svc, failing.ID); got.State != sandbox.StateError || !strings.Contains(got.StateReason, "criu said no") {
		t.Fatalf("after the failed restore: %+v", got)
	}
	if b, _ := rt.Disk(failing.ID); string(b) != "kept" {
		t.Fatalf("files after the failed restore: %q", b)
	}
	if got, err = act(failing.ID, sandbox.ActionStart, ""); err != nil || got.State != sandbox.StateRunning || rt.OnDisk(failing.ID) {
		t.Fatalf("start after the failed restore: %+v, %v", got, err)
	}

	resident := create()
	if _, err := act(resident.ID, sandbox.ActionPause, sandbox.PauseKeep); err != nil {
		t.Fatal(err)
	}
	_, err = act(resident.ID, sandbox.ActionArchive, "")
	var te *sandbox.TransitionError
	if !errors.As(err, &te) || te.From != sandbox.StatePaused || !strings.Contains(te.Error(), "release") {
		t.Fatalf("archive of a sandbox paused in memory: %v", err)
	}
	if got := mustGet(t, svc, resident.ID); got.State != sandbox.StatePaused {
		t.Fatalf("after the refused archive: %+v", got)
	}

	stopped := create()
	for _, a := range []sandbox.Action{sandbox.ActionStop, sandbox.ActionArchive} {
		if _, err := act(stopped.ID, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err = act(stopped.ID, sandbox.ActionResume, "")
	if !errors.As(err, &te) || te.From != sandbox.StateArchived || !strings.Contains(te.Error(), "start it") {
		t.Fatalf("resume of a sandbox archived stopped: %v", err)
	}
	if got := mustGet(t, svc, stopped.ID); got.State != sandbox.StateArchived || got.Pause != nil {
		t.Fatalf("after the refused resume: %+v", got)
	}
	if !slices.Contains(rt.Calls, "export "+stopped.ID) {
		t.Fatalf("calls %v", rt.Calls)
	}
}

// TestArchiveOfPausedOnDiskCut: a server that dies while archiving a
// sandbox paused on disk, before its working copy went, finds it paused
// on disk again at restart, and it resumes.
func TestArchiveOfPausedOnDiskCut(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	st, archs := archiveRig(t)
	svc := archiveService(t, st, rt, archs)
	ctx := context.Background()
	sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: org, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if sb, err = svc.Act(ctx, org, sb.ID, sandbox.ActionPause, sandbox.ActOptions{Wait: true, Memory: sandbox.PauseRelease}); err != nil {
		t.Fatal(err)
	}
	sb.State = sandbox.StateArchiving
	if err := st.UpdateSandbox(ctx, sb, sandbox.Event{}); err != nil {
		t.Fatal(err)
	}
	restarted := archiveService(t, st, rt, archs)
	if _, err := restarted.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, restarted, sb.ID)
	if got.State != sandbox.StatePaused || got.Pause == nil || got.Pause.Memory != sandbox.MemoryOnDisk || !rt.OnDisk(sb.ID) ||
		!strings.Contains(got.StateReason, "paused on disk") {
		t.Fatalf("after the cut archive: %+v %+v", got, got.Pause)
	}
	if got, err = restarted.Act(ctx, org, sb.ID, sandbox.ActionResume, sandbox.ActOptions{Wait: true}); err != nil || got.State != sandbox.StateRunning {
		t.Fatalf("resume after the cut archive: %+v %v", got, err)
	}
}

func archiveRig(t *testing.T) (*sqlite.Store, *archive.Local) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	archs, err := archive.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st, archs
}

func archiveService(t *testing.T, st *sqlite.Store, rt *fakeruntime.Checkpointing, archs *archive.Local) *sandbox.Service {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt, sandbox.WithLogger(log), sandbox.WithArchive(archs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

func mustGet(t *testing.T, svc *sandbox.Service, id string) *sandbox.Sandbox {
	t.Helper()
	sb, err := svc.Get(context.Background(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	return sb
}
