// Package archivetest is the suite every archive.Store passes: the local
// directory and the PostgreSQL store answer Put, Get and Delete alike, so
// that the lifecycle's archive and restore work on either.
package archivetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// Run runs the suite, each case on a new empty store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) archive.Store) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, st archive.Store)
	}{
		{"PutGet", testPutGet},
		{"Empty", testEmpty},
		{"Missing", testMissing},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"KeysApart", testKeysApart},
		{"FailedPutKeepsPrevious", testFailedPutKeepsPrevious},
		{"CanceledPutKeepsPrevious", testCanceledPutKeepsPrevious},
		{"ReaderOutlivesReplaceAndDelete", testReaderOutlives},
		{"BadKey", testBadKey},
		{"Large", testLarge},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

// Put stores s under key and checks the size it returns.
func Put(t *testing.T, st archive.Store, key, s string) {
	t.Helper()
	n, err := st.Put(context.Background(), key, strings.NewReader(s))
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	if n != int64(len(s)) {
		t.Fatalf("Put(%s) = %d bytes, want %d", key, n, len(s))
	}
}

// Read returns key's blob, checking that Get's size is its length.
func Read(t *testing.T, st archive.Store, key string) []byte {
	t.Helper()
	rc, size, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return readAll(t, key, rc, size)
}

func readAll(t *testing.T, key string, rc io.ReadCloser, size int64) []byte {
	t.Helper()
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if int64(len(b)) != size {
		t.Fatalf("Get(%s) said %d bytes and read %d", key, size, len(b))
	}
	return b
}

// MustBeMissing checks that Get finds nothing under key and says so with
// errdefs.ErrNotFound, naming the key.
func MustBeMissing(t *testing.T, st archive.Store, key string) {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Get(%s) found a blob, want none", key)
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get(%s): %v, want ErrNotFound", key, err)
	}
	if !strings.Contains(err.Error(), key) {
		t.Fatalf("Get(%s): %q does not name the key", key, err)
	}
}

func testPutGet(t *testing.T, st archive.Store) {
	Put(t, st, "sbx_1.tar.zst", "hello")
	if b := Read(t, st, "sbx_1.tar.zst"); string(b) != "hello" {
		t.Fatalf("read back %q, want hello", b)
	}
}

func testEmpty(t *testing.T, st archive.Store) {
	Put(t, st, "empty", "")
	if b := Read(t, st, "empty"); len(b) != 0 {
		t.Fatalf("read back %q, want nothing", b)
	}
}

func testMissing(t *testing.T, st archive.Store) {
	MustBeMissing(t, st, "sbx_never.tar.zst")
}

func testReplace(t *testing.T, st archive.Store) {
	Put(t, st, "k", "the first blob, longer than the second")
	Put(t, st, "k", "second")
	if b := Read(t, st, "k"); string(b) != "second" {
		t.Fatalf("after a replace, read %q", b)
	}
}

func testDelete(t *testing.T, st archive.Store) {
	ctx := context.Background()
	Put(t, st, "k", "blob")
	if err := st.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	MustBeMissing(t, st, "k")
	if err := st.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete twice: %v", err)
	}
	if err := st.Delete(ctx, "never-put"); err != nil {
		t.Fatalf("Delete of a key never put: %v", err)
	}
	Put(t, st, "k", "again")
	if b := Read(t, st, "k"); string(b) != "again" {
		t.Fatalf("put after delete: read %q", b)
	}
}

func testKeysApart(t *testing.T, st archive.Store) {
	Put(t, st, "a.tar.zst", "one")
	Put(t, st, "b.tar.zst", "two")
	if err := st.Delete(context.Background(), "a.tar.zst"); err != nil {
		t.Fatal(err)
	}
	MustBeMissing(t, st, "a.tar.zst")
	if b := Read(t, st, "b.tar.zst"); string(b) != "two" {
		t.Fatalf("b after deleting a: %q", b)
	}
}

// testFailedPutKeepsPrevious: a reader that fails part way leaves the
// blob that was there, and nothing where there was none.
func testFailedPutKeepsPrevious(t *testing.T, st archive.Store) {
	ctx := context.Background()
	Put(t, st, "k", "previous")
	failing := func() io.Reader { return io.MultiReader(strings.NewReader("partial"), errReader{}) }
	if _, err := st.Put(ctx, "k", failing()); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if b := Read(t, st, "k"); string(b) != "previous" {
		t.Fatalf("after a failed put, read %q, want the previous blob", b)
	}
	if _, err := st.Put(ctx, "fresh", failing()); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	MustBeMissing(t, st, "fresh")
}

// testCanceledPutKeepsPrevious: a Put whose context ends while it copies
// fails and leaves the previous blob, even though its reader goes on.
func testCanceledPutKeepsPrevious(t *testing.T, st archive.Store) {
	Put(t, st, "k", "previous")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelingReader{cancel: cancel, left: 64 << 10}
	if _, err := st.Put(ctx, "k", r); err == nil {
		t.Fatal("Put went on after its context ended")
	}
	if b := Read(t, st, "k"); string(b) != "previous" {
		t.Fatalf("after a canceled put, read %q, want the previous blob", b)
	}
}

// testReaderOutlives: a blob opened before a replace or a delete reads
// whole as it was (the lifecycle deletes an archive before closing the
// reader it restored from).
func testReaderOutlives(t *testing.T, st archive.Store) {
	ctx := context.Background()
	Put(t, st, "k", "first")
	rc, size, err := st.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	Put(t, st, "k", "second, replacing it")
	if b := readAll(t, "k", rc, size); string(b) != "first" {
		t.Fatalf("reader opened before a replace read %q", b)
	}
	rc, size, err = st.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete with a reader open: %v", err)
	}
	if b := readAll(t, "k", rc, size); string(b) != "second, replacing it" {
		t.Fatalf("reader opened before a delete read %q", b)
	}
	MustBeMissing(t, st, "k")
}

// testBadKey: keys that are not file names are refused by every method
// with a field error naming key, whatever the store keeps them in.
func testBadKey(t *testing.T, st archive.Store) {
	ctx := context.Background()
	for _, key := range []string{"", "../escape", "a/b", ".hidden", "-rf", "x\n", strings.Repeat("a", 202)} {
		_, err := st.Put(ctx, key, strings.NewReader("x"))
		mustBeKeyError(t, "Put", key, err)
		_, _, err = st.Get(ctx, key)
		mustBeKeyError(t, "Get", key, err)
		mustBeKeyError(t, "Delete", key, st.Delete(ctx, key))
	}
	if err := archive.CheckKey(strings.Repeat("a", 201)); err != nil {
		t.Fatalf("a key of 201 bytes: %v", err)
	}
}

func mustBeKeyError(t *testing.T, op, key string, err error) {
	t.Helper()
	var fe *errdefs.FieldError
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !errors.As(err, &fe) || fe.Field != "key" {
		t.Fatalf("%s(%q): %v, want a field error naming key", op, key, err)
	}
}

// testLarge: a blob of several MiB, not a multiple of any buffer size,
// read back byte for byte.
func testLarge(t *testing.T, st archive.Store) {
	blob := make([]byte, 5<<20+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	n, err := st.Put(context.Background(), "large", onlyReader{bytes.NewReader(blob)})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(blob)) {
		t.Fatalf("Put = %d bytes, want %d", n, len(blob))
	}
	got := Read(t, st, "large")
	if !bytes.Equal(got, blob) {
		i := 0
		for i < len(got) && i < len(blob) && got[i] == blob[i] {
			i++
		}
		t.Fatalf("read back %d bytes, want %d; first difference at byte %d", len(got), len(blob), i)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// onlyReader hides a reader's other methods (WriteTo), so that the store
// copies through Read as it does from the lifecycle's pipe.
type onlyReader struct{ io.Reader }

// cancelingReader yields left bytes, 4 KiB at a time, and cancels its
// context on the second read.
type cancelingReader struct {
	cancel func()
	reads  int
	left   int
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	r.reads++
	if r.reads == 2 {
		r.cancel()
	}
	n := min(len(p), r.left, 4096)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.left -= n
	return n, nil
}
