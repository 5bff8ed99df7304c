package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// TestArchiveCheckpointed archives a sandbox checkpointed to disk: the
// stream carries its memory image with its files, Discard frees both,
// and after Import the sandbox is checkpointed again and resumes the same
// process with the same memory, counting on.
func TestArchiveCheckpointed(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	s, _ := startCounter(t, d, "ckarch")
	if err := d.Pause(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	before := readCounter(d, s.ID)
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if err := d.Export(ctx, s.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if packed.Len() < 64<<20 {
		t.Fatalf("the archive is %d bytes, less than the 64 MiB the counter held", packed.Len())
	}
	if err := d.Discard(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	p := d.paths(s.ID)
	for _, gone := range []string{p.diskImg, p.checkpointDir()} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Fatalf("%s after discard: %v", gone, err)
		}
	}
	if err := d.Import(ctx, s.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if m, err := loadCheckpoint(p); err != nil || m == nil {
		t.Fatalf("no checkpoint after import: %v", err)
	}
	if st, err := d.Recover(ctx, s.ID); err != nil || st.State != runtime.StatePaused {
		t.Fatalf("Recover after import = %+v, %v; want paused", st, err)
	}
	if err := d.Resume(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	checkCounting(t, d, s.ID, before)
}

// TestArchiveCheckpointedRestoreFails: a memory image that cannot be
// restored after Import fails the resume and leaves the sandbox's files
// as they were; Start boots it fresh over them.
func TestArchiveCheckpointedRestoreFails(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	s, _ := startCounter(t, d, "ckbad")
	if out, err := d.Exec(ctx, s.ID, "sh", "-c", "echo kept > /kept"); err != nil {
		t.Fatalf("write a file: %v: %s", err, out)
	}
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if err := d.Export(ctx, s.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if err := d.Discard(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Import(ctx, s.ID, &packed); err != nil {
		t.Fatal(err)
	}
	// Without its inventory CRIU refuses the image at once.
	if err := os.Remove(filepath.Join(d.paths(s.ID).checkpointDir(), "inventory.img")); err != nil {
		t.Fatal(err)
	}
	if err := d.Resume(ctx, s.ID); err == nil {
		t.Fatal("resume from a broken memory image succeeded")
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Exec(ctx, s.ID, "cat", "/kept"); err != nil || string(out) != "kept\n" {
		t.Fatalf("file after the fresh start: %q %v", out, err)
	}
	if _, err := os.Stat(d.paths(s.ID).checkpointDir()); !os.IsNotExist(err) {
		t.Fatalf("memory image left after the fresh start: %v", err)
	}
}

// TestReadImagesRefusesPaths: a memory section's entries are plain file
// names of regular files; anything else is refused and no checkpoint
// appears.
func TestReadImagesRefusesPaths(t *testing.T) {
	dir := t.TempDir()
	p := paths{dir: dir, disk: filepath.Join(dir, "disk")}
	if err := os.Mkdir(p.disk, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, hdr := range []*tar.Header{
		{Name: "../escape", Typeflag: tar.TypeReg},
		{Name: "console/../../escape", Typeflag: tar.TypeReg},
		{Name: "sub/file", Typeflag: tar.TypeReg},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		{Name: "console/", Typeflag: tar.TypeDir},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		hdr.Mode = 0o600
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Close()
		err := readImages(context.Background(), tar.NewReader(&buf), p, idRange{Base: 100000, Size: 65536})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("entry %q: %v, want invalid argument", hdr.Name, err)
		}
		if _, err := os.Stat(p.checkpointDir()); !os.IsNotExist(err) {
			t.Errorf("entry %q: a checkpoint appeared: %v", hdr.Name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); !os.IsNotExist(err) {
		t.Fatalf("an entry escaped: %v", err)
	}
}
