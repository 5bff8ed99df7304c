package archive

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestLocalPutGetDelete(t *testing.T) {
	ctx := context.Background()
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Get(ctx, "sbx_1.tar.zst"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	n, err := l.Put(ctx, "sbx_1.tar.zst", strings.NewReader("hello"))
	if err != nil || n != 5 {
		t.Fatalf("put: %d %v", n, err)
	}
	rc, size, err := l.Get(ctx, "sbx_1.tar.zst")
	if err != nil || size != 5 {
		t.Fatalf("get: %d %v", size, err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Fatalf("read back %q", b)
	}
	if err := l.Delete(ctx, "sbx_1.tar.zst"); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx, "sbx_1.tar.zst"); err != nil {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := l.Put(ctx, "../escape", strings.NewReader("x")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("key with a path: %v", err)
	}
}

// TestLocalPutFailureLeavesNothing checks that a Put whose reader fails
// leaves neither a blob nor a temporary file behind.
func TestLocalPutFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	l, _ := OpenLocal(dir)
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
