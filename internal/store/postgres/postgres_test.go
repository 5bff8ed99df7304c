package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/hutchdev/hutch/internal/store"
	"github.com/hutchdev/hutch/internal/store/postgres/pgtest"
	"github.com/hutchdev/hutch/internal/store/storetest"
)

// server is the test binary's PostgreSQL, started by TestMain.
var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &server)) }

// openTemp opens a store on a new database and closes it when the test
// ends (before the database is dropped).
func openTemp(t testing.TB) *Store {
	t.Helper()
	return openURL(t, server.Database(t))
}

func openURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}
