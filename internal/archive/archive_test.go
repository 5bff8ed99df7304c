package archive_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/archive/archivetest"
)

func TestLocal(t *testing.T) {
	archivetest.Run(t, func(t *testing.T) archive.Store {
		l, err := archive.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

// TestLocalPutFailureLeavesNothing checks that a Put whose reader fails
// leaves neither a blob nor a temporary file behind.
func TestLocalPutFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	l, err := archive.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := io.MultiReader(strings.NewReader("partial"), errReader{})
	if _, err := l.Put(context.Background(), "k", r); err == nil {
		t.Fatal("put with a failing reader succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }
