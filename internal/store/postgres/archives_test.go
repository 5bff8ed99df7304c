package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/archive/archivetest"
	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestArchives(t *testing.T) {
	archivetest.Run(t, func(t *testing.T) archive.Store { return openTemp(t).Archives() })
}

// TestArchivesAcrossReplicas: what one replica archives, another reads
// and deletes; what that one wrote over, the first reads.
func TestArchivesAcrossReplicas(t *testing.T) {
	url := server.Database(t)
	a, b := openURL(t, url).Archives(), openURL(t, url).Archives()
	archivetest.Put(t, a, "sbx_1.tar.zst", "from a")
	if got := archivetest.Read(t, b, "sbx_1.tar.zst"); string(got) != "from a" {
		t.Fatalf("b read %q", got)
	}
	archivetest.Put(t, b, "sbx_1.tar.zst", "from b")
	if got := archivetest.Read(t, a, "sbx_1.tar.zst"); string(got) != "from b" {
		t.Fatalf("a read %q after b's put", got)
	}
	if err := b.Delete(context.Background(), "sbx_1.tar.zst"); err != nil {
		t.Fatal(err)
	}
	archivetest.MustBeMissing(t, a, "sbx_1.tar.zst")
}

// TestArchivesLeaveNoObjects checks that no large object outlives the row
// that names it: a replace and a delete unlink the old object, and a put
// that fails or is canceled rolls its new one back.
func TestArchivesLeaveNoObjects(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	a := s.Archives()
	check := func(when string, want int) {
		t.Helper()
		var objects, rows int
		if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_largeobject_metadata),
			(SELECT count(*) FROM archives)`).Scan(&objects, &rows); err != nil {
			t.Fatal(err)
		}
		if objects != want || rows != want {
			t.Fatalf("%s: %d large objects and %d rows, want %d of each", when, objects, rows, want)
		}
	}
	archivetest.Put(t, a, "k", "one")
	archivetest.Put(t, a, "other", "other")
	check("after two puts", 2)
	archivetest.Put(t, a, "k", "two")
	check("after a replace", 2)
	if _, err := a.Put(ctx, "k", io.MultiReader(strings.NewReader("partial"), failingReader{})); err == nil {
		t.Fatal("put with a failing reader succeeded")
	}
	if _, err := a.Put(ctx, "new", io.MultiReader(strings.NewReader("partial"), failingReader{})); err == nil {
		t.Fatal("put with a failing reader succeeded")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Put(canceled, "k", strings.NewReader("never")); err == nil {
		t.Fatal("put with an ended context succeeded")
	}
	check("after failed puts", 2)
	for _, k := range []string{"k", "other"} {
		if err := a.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	check("after deleting both", 0)
}

// TestArchivesConcurrentPuts has several puts of one key race, as two
// replicas archiving the same sandbox would (its lock keeps them apart;
// the store does not rely on it): every put succeeds, the key holds one
// of the blobs whole, and one object is left.
func TestArchivesConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	stores := []*Archives{openURL(t, url).Archives(), openURL(t, url).Archives()}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	blobs := map[string]bool{}
	for i := range n {
		blob := strings.Repeat(fmt.Sprint(i), 1000+i)
		blobs[blob] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := stores[i%2].Put(ctx, "k", strings.NewReader(blob)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := archivetest.Read(t, stores[0], "k"); !blobs[string(got)] {
		t.Fatalf("read %d bytes that no put wrote", len(got))
	}
	var objects int
	if err := stores[0].pool.QueryRow(ctx, `SELECT count(*) FROM pg_largeobject_metadata`).Scan(&objects); err != nil {
		t.Fatal(err)
	}
	if objects != 1 {
		t.Fatalf("%d large objects after the puts, want 1", objects)
	}
}

// TestArchiveReaderLeavesStoreConnections checks that an open archive
// reader does not take a connection the records need: a restore reads
// its archive while it records progress, and with both on one pool of
// one connection the record would wait for ever. The deadline only turns
// such a wait into a failure.
func TestArchiveReaderLeavesStoreConnections(t *testing.T) {
	ctx := context.Background()
	s := openURL(t, server.Database(t)+"&pool_max_conns=1")
	a := s.Archives()
	archivetest.Put(t, a, "k", "blob")
	rc, _, err := a.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := s.GetSandboxByID(wait, "sbx_none"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("a store read with an archive reader open: %v, want not found", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// BenchmarkArchives times a 32 MiB archive written and read back through
// the database.
func BenchmarkArchives(b *testing.B) {
	ctx := context.Background()
	a := openTemp(b).Archives()
	blob := make([]byte, 32<<20)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	b.Run("Put", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		for b.Loop() {
			if _, err := a.Put(ctx, "bench", struct{ io.Reader }{bytes.NewReader(blob)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		for b.Loop() {
			rc, _, err := a.Get(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != int64(len(blob)) {
				b.Fatalf("read %d bytes: %v", n, err)
			}
		}
	})
}
