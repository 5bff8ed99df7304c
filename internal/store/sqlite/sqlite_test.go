package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/store"
	"github.com/hutchdev/hutch/internal/store/storetest"
)

// openTemp opens a store on a file in the test's temporary directory and
// closes it when the test ends.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestOpenMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	_, err := Open(context.Background(), filepath.Join(dir, "hutch.db"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open in a missing directory: %v; want fs.ErrNotExist naming %s", err, dir)
	}
}

func TestOpenRejectsNonFile(t *testing.T) {
	for _, p := range []string{"", ":memory:", filepath.Join(t.TempDir(), "a?mode=ro")} {
		if s, err := Open(context.Background(), p); err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded, want an error", p)
		}
	}
}

func TestConnectionSettings(t *testing.T) {
	s := openTemp(t)
	for _, c := range []struct {
		db   *sql.DB
		name string
	}{{s.w, "writer"}, {s.r, "reader"}} {
		var mode string
		var fk, busy, sync int
		if err := c.db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
			t.Fatalf("%s synchronous = %d, %v; want 2 (FULL)", c.name, sync, err)
		}
		if err := c.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("%s journal_mode = %q, %v; want wal", c.name, mode, err)
		}
		if err := c.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Fatalf("%s foreign_keys = %d, %v; want 1", c.name, fk, err)
		}
		if err := c.db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != int(busyTimeout.Milliseconds()) {
			t.Fatalf("%s busy_timeout = %d, %v", c.name, busy, err)
		}
	}
	if _, err := s.r.Exec(`INSERT INTO organizations (id, name, created_at) VALUES ('x', 'x', 'x')`); err == nil {
		t.Fatal("the reader pool accepted a write")
	}
}

// TestCanceledWriteReleasesWriter checks that a write given up by its caller
// does not hold the one writer connection: the next write goes through.
func TestCanceledWriteReleasesWriter(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	org := &auth.Organization{ID: "org_1", Name: "acme"}
	if err := s.CreateOrganization(ctx, org); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateOrganization with a canceled context: %v, want context.Canceled", err)
	}
	if err := s.CreateOrganization(context.Background(), org); err != nil {
		t.Fatalf("CreateOrganization after a canceled one: %v", err)
	}
	if n, err := s.CountOrganizations(context.Background()); err != nil || n != 1 {
		t.Fatalf("CountOrganizations = %d, %v; want 1", n, err)
	}
}
