package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// fastClock makes one interval minute of autoStopMinutes and the like last
// a second, and the reconciler look five times a second.
var fastClock = []string{"--minute", "1s", "--reconcile-interval", "200ms"}

var (
	sleeper = []string{"sleep", "infinity"}
	spinner = []string{"sh", "-c", "while :; do :; done"}
)

func ptr[T any](v T) *T { return &v }

func create(t *testing.T, s *server, req api.CreateSandboxRequest) *api.Sandbox {
	t.Helper()
	sb, err := s.c.CreateSandbox(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	return sb
}

// stateOf reads a sandbox's state through the list, which, unlike a get,
// does not count as activity on it.
func stateOf(t *testing.T, s *server, id string) string {
	t.Helper()
	all := []string{"creating", "running", "pausing", "paused", "resuming", "stopping", "stopped",
		"starting", "archiving", "archived", "deleting", "deleted", "error"}
	l, err := s.c.ListSandboxes(ctx(t), client.ListOptions{States: all, PageSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range l.Items {
		if sb.ID == id {
			return sb.State
		}
	}
	return "missing"
}

func countEvents(t *testing.T, s *server, id, to, cause string) int {
	t.Helper()
	evs, err := s.c.Events(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs.Items {
		if e.Type == "state" && e.To == to && e.Cause == cause {
			n++
		}
	}
	return n
}

// TestExpiryAfterServerSIGKILL kills the server before a sandbox's expiry
// and restarts it after: the overdue expiry is applied once, promptly.
func TestExpiryAfterServerSIGKILL(t *testing.T) {
	s := startServer(t, "", fastClock...)
	sb := create(t, s, api.CreateSandboxRequest{Name: "short", Entrypoint: sleeper, TimeoutSeconds: ptr(int64(3))})
	s.crash()
	time.Sleep(time.Until(*sb.ExpiresAt) + time.Second) // wait past the expiry with no server
	if initPID(t, sb.ID) == 0 {
		t.Fatal("the sandbox died with the server")
	}
	s2 := startServer(t, s.dataDir, fastClock...)
	poll.Until(t, "the expired sandbox to be deleted", func() bool { return stateOf(t, s2, sb.ID) == "deleted" })
	waitGone(t, sb.ID)
	if n := countEvents(t, s2, sb.ID, "deleting", "expiry"); n != 1 {
		t.Fatalf("%d expiry deletes, want 1", n)
	}
}

// TestAutoStopSparesCPUBusySandbox runs an idle and a CPU-busy sandbox
// with the same short auto-stop and no API calls: the idle one is
// stopped, the busy one keeps running.
func TestAutoStopSparesCPUBusySandbox(t *testing.T) {
	s := startServer(t, "", fastClock...)
	still := create(t, s, api.CreateSandboxRequest{Name: "idle", Entrypoint: sleeper, AutoStopMinutes: ptr(3)})
	working := create(t, s, api.CreateSandboxRequest{Name: "busy", Entrypoint: spinner, AutoStopMinutes: ptr(3)})
	poll.Until(t, "the idle sandbox to be auto-stopped", func() bool { return stateOf(t, s, still.ID) == "stopped" })
	if n := countEvents(t, s, still.ID, "stopping", "auto-stop"); n != 1 {
		t.Fatalf("%d auto-stops of the idle sandbox, want 1", n)
	}
	// Three more auto-stop intervals of the busy one go by.
	for end := time.Now().Add(9 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if st := stateOf(t, s, working.ID); st != "running" {
			t.Fatalf("the CPU-busy sandbox went %s", st)
		}
	}
	if n := countEvents(t, s, working.ID, "stopping", "auto-stop"); n != 0 {
		t.Fatalf("the busy sandbox was auto-stopped %d times", n)
	}
}

// TestAutoDeleteOnStop deletes a sandbox with autoDeleteMinutes 0 as soon
// as it stops, leaving nothing behind.
func TestAutoDeleteOnStop(t *testing.T) {
	s := startServer(t, "", fastClock...)
	sb := create(t, s, api.CreateSandboxRequest{Name: "once", Entrypoint: sleeper, AutoDeleteMinutes: ptr(0)})
	if _, err := s.c.Stop(ctx(t), sb.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the stopped sandbox to be deleted", func() bool { return stateOf(t, s, sb.ID) == "deleted" })
	waitGone(t, sb.ID)
	if n := countEvents(t, s, sb.ID, "deleting", "auto-delete"); n != 1 {
		t.Fatalf("%d auto-deletes, want 1", n)
	}
}

// stamper writes a unique stamp on its first boot only, so that a start
// after a restore shows whether the files came back.
var stamper = []string{"sh", "-c", "test -e /root/stamp || date +%s%N > /root/stamp; exec sleep infinity"}

func readStamp(t *testing.T, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepathInSandbox(t, id, "/root/stamp"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func filepathInSandbox(t *testing.T, id, path string) string {
	t.Helper()
	pid := initPID(t, id)
	if pid == 0 {
		t.Fatalf("sandbox %s runs no process", id)
	}
	return fmt.Sprintf("/proc/%d/root%s", pid, path)
}

// TestAutoArchiveThenStartRestoresFiles lets a stopped sandbox be archived
// by its timer (its disk image goes, the archive appears), then starts it:
// the restored sandbox has the files it had.
func TestAutoArchiveThenStartRestoresFiles(t *testing.T) {
	s := startServer(t, "", fastClock...)
	sb := create(t, s, api.CreateSandboxRequest{Name: "arch", Entrypoint: stamper, AutoArchiveMinutes: ptr(2)})
	var stamp string
	poll.Until(t, "the stamp", func() bool {
		b, err := os.ReadFile(filepathInSandbox(t, sb.ID, "/root/stamp"))
		stamp = strings.TrimSpace(string(b))
		return err == nil && stamp != ""
	})
	if _, err := s.c.Stop(ctx(t), sb.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the auto-archive", func() bool { return stateOf(t, s, sb.ID) == "archived" })
	disk := filepath.Join(s.dataDir, "runtime", "sandboxes", sb.ID, "disk.img")
	if _, err := os.Stat(disk); !os.IsNotExist(err) {
		t.Fatalf("disk image of the archived sandbox: %v", err)
	}
	packed := filepath.Join(s.dataDir, "archives", sb.ID+".tar.zst")
	if _, err := os.Stat(packed); err != nil {
		t.Fatalf("archive: %v", err)
	}
	if n := countEvents(t, s, sb.ID, "archiving", "auto-archive"); n != 1 {
		t.Fatalf("%d auto-archives, want 1", n)
	}
	started, err := s.c.Start(ctx(t), sb.ID)
	if err != nil || started.State != "running" {
		t.Fatalf("start of the archived sandbox: %+v %v", started, err)
	}
	if got := readStamp(t, sb.ID); got != stamp {
		t.Fatalf("restored stamp %q, want %q", got, stamp)
	}
	if _, err := os.Stat(packed); !os.IsNotExist(err) {
		t.Fatalf("archive kept after the restore: %v", err)
	}
	evs, err := s.c.Events(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var restoring bool
	for _, e := range evs.Items {
		restoring = restoring || (e.Type == "archive" && strings.Contains(e.Message, "restoring"))
	}
	if !restoring {
		t.Fatalf("no restore progress in the events: %+v", evs.Items)
	}
	// A manual archive works the same way.
	if _, err := s.c.Stop(ctx(t), sb.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.c.Archive(ctx(t), sb.ID); err != nil || got.State != "archived" {
		t.Fatalf("manual archive: %+v %v", got, err)
	}
	if _, err := s.c.Start(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	if got := readStamp(t, sb.ID); got != stamp {
		t.Fatalf("stamp after the manual archive %q, want %q", got, stamp)
	}
}
