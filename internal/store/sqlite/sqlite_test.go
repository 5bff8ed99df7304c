package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

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
