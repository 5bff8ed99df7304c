package postgres

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// TestMigrationsConcurrentOpen opens four stores at once on an empty
// database, as replicas starting together do: the advisory lock makes
// them take turns, every step is applied once, and all of them open.
func TestMigrationsConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	s := openURL(t, url)
	var n, distinct int
	if err := s.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || distinct != len(ms) {
		t.Fatalf("schema_migrations has %d rows (%d versions), want each of %d steps once", n, distinct, len(ms))
	}
}

// TestMigrationsRefuseNewerSchema checks that a database a newer hutch
// migrated is refused, not written with an older idea of the schema.
func TestMigrationsRefuseNewerSchema(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	s := openURL(t, url)
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(ctx, url); err == nil {
		s2.Close()
		t.Fatal("Open succeeded on a database with an unknown schema version")
	} else if !strings.Contains(err.Error(), "9999") {
		t.Fatalf("Open: %v; want the unknown version named", err)
	}
}

// TestOpenErrorsHideThePassword checks that neither a URL pgx cannot
// parse nor a server that refuses the connection repeats the password.
func TestOpenErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{
		"postgres://hutch:s3cret@127.0.0.1:1/hutch?connect_timeout=2&sslmode=disable",
		"postgres://hutch:s3cret@127.0.0.1/hutch?sslmode=nonsense",
	} {
		s, err := Open(ctx, u)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) succeeded", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open error repeats the password: %v", err)
		}
	}
	if server == nil {
		return
	}
	// A missing database is PostgreSQL's answer, passed on.
	if s, err := Open(ctx, server.TCPURL("no_such_db")); err == nil {
		s.Close()
		t.Fatal("Open of a missing database succeeded")
	}
}
