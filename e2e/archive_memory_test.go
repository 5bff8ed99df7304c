package e2e

import (
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/client"
)

// TestArchivePausedOnDisk archives a python process holding 256 MiB that
// was paused with its memory released: the archive takes its memory image
// with its files (neither is left in the sandbox's directory), the
// archived sandbox still shows its memory on disk, and resume brings back
// the same process with the same memory, counting on. Another, archived
// the same way, is started instead: it boots fresh.
func TestArchivePausedOnDisk(t *testing.T) {
	s := startServer(t, "")
	requireCheckpoint(t, s)
	sb := newHolder(t, s, "archived-holder")
	before := waitHolding(t, s, sb.ID)
	if _, err := s.c.Pause(ctx(t), sb.ID, client.ReleaseMemory()); err != nil {
		t.Fatal(err)
	}
	archived, err := s.c.Archive(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if archived.State != "archived" || archived.Pause == nil || archived.Pause.Memory != "on-disk" {
		t.Fatalf("after archive: %+v %+v", archived, archived.Pause)
	}
	filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(path, sb.ID) &&
			(strings.HasSuffix(path, "/disk.img") || strings.HasSuffix(path, "/checkpoint")) {
			t.Errorf("left after archive: %s", path)
		}
		return nil
	})
	resumed, err := s.c.Resume(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.State != "running" || resumed.Pause != nil {
		t.Fatalf("after resume: %+v", resumed)
	}
	checkSame(t, sb.ID, before)
	if out := sh(t, s, sb.ID, "cat /dev/shm/count"); !strings.HasPrefix(out, strconv.Itoa(before.pid)+" ") {
		t.Fatalf("the agent reads %q", out)
	}

	fresh := newHolder(t, s, "archived-started")
	old := waitHolding(t, s, fresh.ID)
	if _, err := s.c.Pause(ctx(t), fresh.ID, client.ReleaseMemory()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Archive(ctx(t), fresh.ID); err != nil {
		t.Fatal(err)
	}
	started, err := s.c.Start(ctx(t), fresh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if started.State != "running" || started.Pause != nil {
		t.Fatalf("after start: %+v", started)
	}
	if now := waitHolding(t, s, fresh.ID); now.digest == old.digest {
		t.Fatalf("start of an archived sandbox paused on disk restored its memory (%+v) instead of booting fresh", now)
	}
}
