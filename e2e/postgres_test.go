package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/store/postgres/pgtest"
)

// startPostgres runs a throwaway PostgreSQL for one test and returns the
// URL of a fresh database on it; both go when the test ends. Without the
// server binaries the test fails (run scripts/setup.sh) unless
// HUTCH_SKIP_POSTGRES=1.
func startPostgres(t *testing.T) string {
	t.Helper()
	return pgtest.StartT(t).Database(t)
}

// TestServeOnPostgres runs hutch serve with --store postgres://...: a
// sandbox is created, runs commands and pauses; a server killed and
// started again on the same database finds it paused and resumes it; and
// nothing went to a SQLite file.
func TestServeOnPostgres(t *testing.T) {
	url := startPostgres(t)
	s := startServer(t, "", "--store", url)
	sb := createCounter(t, s, "pg-web")
	res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"echo", "from postgres"}})
	if err != nil || strings.TrimSpace(res.Stdout) != "from postgres" {
		t.Fatalf("exec: %+v %v", res, err)
	}
	if _, err := s.c.Pause(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "hutch.db")); err == nil {
		t.Fatal("a server on PostgreSQL wrote a SQLite store in its data dir")
	}

	s.crash()
	s2 := startServer(t, s.dataDir, "--store", url)
	got, err := s2.c.GetSandbox(ctx(t), "pg-web")
	if err != nil || got.ID != sb.ID || got.State != "paused" {
		t.Fatalf("after restart: %+v %v; want %s paused", got, err, sb.ID)
	}
	if got, err := s2.c.Resume(ctx(t), sb.ID); err != nil || got.State != "running" {
		t.Fatalf("resume after restart: %+v %v", got, err)
	}
	list, err := s2.c.ListSandboxes(ctx(t), client.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].ID != sb.ID {
		t.Fatalf("list after restart: %+v %v", list, err)
	}
	evs, err := s2.c.Events(ctx(t), sb.ID)
	if err != nil || !hasEvent(evs.Items, "paused", "resuming", "user") {
		t.Fatalf("events after restart: %+v %v", evs, err)
	}

	// An archive goes into the database, not the data dir, and a server
	// started again restores from it.
	if res, err := s2.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c", "echo kept > /root/kept"}}); err != nil || res.ExitCode != 0 {
		t.Fatalf("write a file: %+v %v", res, err)
	}
	if _, err := s2.c.Stop(ctx(t), sb.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.c.Archive(ctx(t), sb.ID); err != nil || got.State != "archived" {
		t.Fatalf("archive: %+v %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(s2.dataDir, "archives", sb.ID+".tar.zst")); !os.IsNotExist(err) {
		t.Fatalf("the archive is in the data dir: %v", err)
	}
	if n := archiveRows(t, url, sb.ID); n != 1 {
		t.Fatalf("%d archives of %s in the database, want 1", n, sb.ID)
	}
	s2.crash()
	s3 := startServer(t, s.dataDir, "--store", url)
	if got, err := s3.c.Start(ctx(t), sb.ID); err != nil || got.State != "running" {
		t.Fatalf("start of the archived sandbox: %+v %v", got, err)
	}
	if res, err := s3.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"cat", "/root/kept"}}); err != nil || strings.TrimSpace(res.Stdout) != "kept" {
		t.Fatalf("the file after the restore: %+v %v", res, err)
	}
	if n := archiveRows(t, url, sb.ID); n != 0 {
		t.Fatalf("%d archives of %s in the database after the restore, want 0", n, sb.ID)
	}
}

// archiveRows counts the archives of sandbox id in the database at url.
func archiveRows(t *testing.T, url, id string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx(t))
	var n int
	if err := conn.QueryRow(ctx(t), `SELECT count(*) FROM archives WHERE key = $1`, id+".tar.zst").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestServeRejectsBadPostgresURL checks that a URL that does not parse
// stops hutch serve at once, naming --store without the password.
func TestServeRejectsBadPostgresURL(t *testing.T) {
	out, err := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--store", "postgres://hutch:s3cret@db.internal:port/hutch").CombinedOutput()
	if err == nil {
		t.Fatalf("hutch serve started with a bad --store:\n%s", out)
	}
	if !strings.Contains(string(out), "--store") || strings.Contains(string(out), "s3cret") {
		t.Fatalf("hutch serve's refusal does not name --store, or repeats the password:\n%s", out)
	}
}
