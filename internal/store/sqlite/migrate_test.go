package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/migration"
)

// appliedMigrations returns schema_migrations as "version name applied_at"
// rows.
func appliedMigrations(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT version || ' ' || name || ' ' || applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestReopenKeepsDataAndMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hutch.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	org := &auth.Organization{ID: "org_1", Name: "acme"}
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	sb := &sandbox.Sandbox{ID: "sbx_1", Name: "web", OrganizationID: org.ID, State: sandbox.StateRunning}
	if err := s.CreateSandbox(ctx, sb, sandbox.Event{Type: "state", To: sandbox.StateCreating}); err != nil {
		t.Fatal(err)
	}
	before := appliedMigrations(t, s.r)
	ms, _ := migrations()
	if len(before) != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want one per embedded file (%d)", len(before), len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if after := appliedMigrations(t, s.r); !slices.Equal(after, before) {
		t.Fatalf("reopen changed schema_migrations:\n%v\n%v", before, after)
	}
	got, err := s.GetSandbox(ctx, org.ID, "web")
	if err != nil || got.ID != sb.ID {
		t.Fatalf("sandbox after reopen = %+v, %v", got, err)
	}
	if n, err := s.CountOrganizations(ctx); err != nil || n != 1 {
		t.Fatalf("organizations after reopen = %d, %v", n, err)
	}
	if evs, err := s.ListEvents(ctx, sb.ID); err != nil || len(evs) != 1 {
		t.Fatalf("events after reopen = %+v, %v", evs, err)
	}
}

func TestMigrateAppliesOnlyNewStepsAndWholeSteps(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	next := ms[len(ms)-1].Version + 1
	extra := append(slices.Clone(ms), migration.Step{Version: next, Name: "new.sql", SQL: `CREATE TABLE t_new (x INTEGER);`})
	for range 2 { // the second run must not re-run CREATE TABLE
		if err := migrate(ctx, s.w, extra); err != nil {
			t.Fatalf("migrate with a new step: %v", err)
		}
	}
	if got := appliedMigrations(t, s.r); len(got) != len(extra) {
		t.Fatalf("schema_migrations = %v, want %d rows", got, len(extra))
	}

	// A failing step leaves neither its tables nor its record behind.
	broken := append(slices.Clone(extra), migration.Step{Version: next + 1, Name: "broken.sql",
		SQL: `CREATE TABLE t_broken (x INTEGER); INSERT INTO no_such_table VALUES (1);`})
	if err := migrate(ctx, s.w, broken); err == nil {
		t.Fatal("migrate with a broken step succeeded")
	}
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 't_broken'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("broken step's table left behind: %d, %v", n, err)
	}
	if got := appliedMigrations(t, s.r); len(got) != len(extra) {
		t.Fatalf("broken step recorded: %v", got)
	}
}

// TestMigrateRefusesNewerSchema: a database file a newer hutch migrated
// (a version this binary has no step for) is refused, not written with an
// older idea of the schema.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hutch.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open succeeded on a database with an unknown schema version")
	} else if !strings.Contains(err.Error(), "9999") {
		t.Fatalf("Open: %v; want the unknown version named", err)
	}
}

// TestNoTriggers keeps lifecycle rules out of the schema: what a trigger
// would do (queue webhook deliveries) is done in Go, where storetest holds
// every backend to it.
func TestNoTriggers(t *testing.T) {
	s := openTemp(t)
	var names []string
	rows, err := s.r.Query(`SELECT name FROM sqlite_schema WHERE type = 'trigger'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil || len(names) != 0 {
		t.Fatalf("triggers in the schema: %v, %v", names, err)
	}
}
