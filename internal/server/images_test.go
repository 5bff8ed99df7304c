package server

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// TestCreateWaitsForItsSeed: a create that needs a base image still being
// seeded waits for it; past the bound it gets an unavailable error naming
// the image and its progress (503, with Retry-After); a base image never
// built is refused naming the fix, and any other image is not held up.
func TestCreateWaitsForItsSeed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking a layer chowns its files")
	}
	st, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seeds := t.TempDir()
	fifo := filepath.Join(seeds, "base.tar")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sd := startSeeding(context.Background(), st, seeds, "base", log)
	fed := false
	feed := func() {
		if fed {
			return
		}
		fed = true
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(oneFileTar(t))
		f.Close()
	}
	defer func() { feed(); sd.close() }()

	ctx := context.Background()
	err = sd.wait(ctx, "base", 50*time.Millisecond)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), `image "base" is still being imported`) || !strings.Contains(err.Error(), "/readyz") {
		t.Fatalf("wait past the bound: %v, want unavailable naming the image and /readyz", err)
	}
	if busy, _ := sd.busy(); !busy {
		t.Error("not busy while importing")
	}
	waited := make(chan error, 1)
	go func() { waited <- sd.wait(ctx, "base:latest", time.Minute) }()
	select {
	case err := <-waited:
		t.Fatalf("a create's wait ended before the image was there: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	feed()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("wait once the image is there: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the create's wait did not end when the image arrived")
	}
	if _, err := st.Resolve(ctx, "base"); err != nil {
		t.Fatalf("seeded base: %v", err)
	}
	err = sd.wait(ctx, "python", time.Second)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Errorf("wait for a base image never built: %v, want the fix named", err)
	}
	if err := sd.wait(ctx, "docker.io/library/alpine:3", time.Millisecond); err != nil {
		t.Errorf("wait for an image that is not a seed: %v", err)
	}
	if busy, _ := sd.busy(); busy {
		t.Error("busy after every seed settled")
	}
}

func oneFileTar(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "./hello", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	tw.Write([]byte("hi"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
