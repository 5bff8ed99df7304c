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

// FuzzKey: a key is refused with a field error naming it, or its blob
// lands directly in the store's directory and reads back whole; no key
// reaches a file outside it.
func FuzzKey(f *testing.F) {
	for _, k := range []string{"sbx_abc.tar", "../x", "..", ".", "a/b", "/etc/passwd", "a\x00b", strings.Repeat("a", 300),
		"-rf", "x\n", ".hidden", "a..b", "A-b_c.d"} {
		f.Add(k)
	}
	parent := f.TempDir()
	f.Fuzz(func(t *testing.T, key string) {
		dir, err := os.MkdirTemp(parent, "store-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		l, err := OpenLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := l.Put(ctx, key, strings.NewReader("blob")); err != nil {
			var fe *errdefs.FieldError
			if !errors.As(err, &fe) || fe.Field != "key" {
				t.Fatalf("Put(%q): %v, want a field error naming key", key, err)
			}
			return
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != key {
			t.Fatalf("Put(%q) left %v in the store's dir", key, entries)
		}
		if others, _ := os.ReadDir(parent); len(others) != 1 {
			t.Fatalf("Put(%q) wrote beside the store's dir: %v", key, others)
		}
		rc, n, err := l.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "blob" || n != 4 {
			t.Fatalf("Get(%q) = %q, %d", key, b, n)
		}
		if err := l.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	})
}
