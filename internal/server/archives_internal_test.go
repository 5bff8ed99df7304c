package server

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/archive/archivetest"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/postgres"
)

// TestArchivesOnSQLiteStayLocal: a server alone keeps archives in its
// data dir, where it kept them before.
func TestArchivesOnSQLiteStayLocal(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	st, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "archives"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "archives", "sbx_1.tar.zst"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := openArchives(ctx, cfg.DataDir, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*archive.Local); !ok {
		t.Fatalf("archive store on SQLite is a %T, want the local directory", a)
	}
	if got := archivetest.Read(t, a, "sbx_1.tar.zst"); string(got) != "kept" {
		t.Fatalf("read %q", got)
	}
}

// TestArchivesMoveIntoPostgres: a server that kept archives in its data
// dir on PostgreSQL before moves those its sandboxes restore from into
// the database as it starts, and leaves (and names) the ones that would
// restore stale files: of a sandbox that ran since, of one that is gone,
// of one whose archive the database holds already.
func TestArchivesMoveIntoPostgres(t *testing.T) {
	ctx := context.Background()
	cfg := replicaConfig(t, startPostgres(t))
	st, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := filepath.Join(cfg.DataDir, "archives")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sandboxIn := func(state sandbox.State) string {
		now := time.Now().UTC()
		sb := &sandbox.Sandbox{ID: ids.New("sbx_"), Name: ids.New("n-"), OrganizationID: "org_1", Image: "base",
			State: state, DesiredState: state, CreatedAt: now, UpdatedAt: now, LastActivityAt: now, Version: 1}
		if err := st.CreateSandbox(ctx, sb, sandbox.Event{Type: sandbox.EventState, To: state, Cause: sandbox.CauseUser}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sb.ID+".tar.zst"), []byte("local "+string(state)), 0o600); err != nil {
			t.Fatal(err)
		}
		return sb.ID + ".tar.zst"
	}
	archived, failed, running, inDB := sandboxIn(sandbox.StateArchived), sandboxIn(sandbox.StateError),
		sandboxIn(sandbox.StateRunning), sandboxIn(sandbox.StateArchived)
	db := st.(*postgres.Store).Archives()
	archivetest.Put(t, db, inDB, "newer, in the database")
	for _, f := range []string{"sbx_gone.tar.zst", ".put-123", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	a, err := openArchives(ctx, cfg.DataDir, st, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*postgres.Archives); !ok {
		t.Fatalf("archive store on PostgreSQL is a %T, want the database's", a)
	}
	for key, want := range map[string]string{archived: "local archived", failed: "local error", inDB: "newer, in the database"} {
		if got := archivetest.Read(t, a, key); string(got) != want {
			t.Fatalf("database holds %q under %s, want %q", got, key, want)
		}
	}
	archivetest.MustBeMissing(t, a, running)
	archivetest.MustBeMissing(t, a, "sbx_gone.tar.zst")

	var files []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		files = append(files, e.Name())
	}
	want := []string{".put-123", "notes.txt", "sbx_gone.tar.zst", running, inDB}
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Fatalf("left in the data dir: %v, want %v", files, want)
	}
	for _, f := range []string{running, inDB, "sbx_gone.tar.zst"} {
		if !strings.Contains(logged.String(), f) {
			t.Fatalf("the log does not name %s, left in the data dir:\n%s", f, logged.String())
		}
	}
}
