package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// holder is a python process holding 256 MiB of random-patterned memory,
// an open file and a working directory of its own, serving HTTP on 8000
// and writing "pid ticks len digest" to /dev/shm/count, the digest taken
// over the memory on every tick.
const holder = `
import hashlib, http.server, os, threading, time
os.makedirs("/dev/shm/work", exist_ok=True)
os.chdir("/dev/shm/work")
held = open("open", "w")
blob = bytearray(os.urandom(1 << 20)) * 256
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers(); self.wfile.write(b"up\n")
threading.Thread(target=http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever, daemon=True).start()
n = 0
while True:
    n += 1
    d = hashlib.md5(blob[::4096]).hexdigest()
    with open("/dev/shm/count.new", "w") as f:
        f.write("%d %d %d %s" % (os.getpid(), n, len(blob), d))
    os.rename("/dev/shm/count.new", "/dev/shm/count")
    time.sleep(0.1)
`

type holding struct {
	pid, n, size int
	digest       string
}

func readHolding(id string) holding {
	var h holding
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/dev/shm/count", initPIDOf(id)))
	if err == nil {
		fmt.Sscanf(string(b), "%d %d %d %s", &h.pid, &h.n, &h.size, &h.digest)
	}
	return h
}

// initPIDOf is initPID without a test to fail: 0 when nothing runs.
func initPIDOf(id string) int {
	for _, pid := range cgroupProcs(id) {
		if nsPID(pid) == 1 {
			return pid
		}
	}
	return 0
}

func cgroupProcs(id string) []int {
	b, _ := os.ReadFile("/sys/fs/cgroup/pids/hutch/" + id + "/cgroup.procs")
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// nsPID is pid's number in its own pid namespace.
func nsPID(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// hostPIDOf finds the host pid of the sandbox process numbered nspid inside.
func hostPIDOf(id string, nspid int) int {
	for _, pid := range cgroupProcs(id) {
		if nsPID(pid) == nspid {
			return pid
		}
	}
	return 0
}

func memoryUsage(t *testing.T, id string) int64 {
	t.Helper()
	b, err := os.ReadFile("/sys/fs/cgroup/memory/hutch/" + id + "/memory.usage_in_bytes")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// requireCheckpoint skips where CRIU was never built, and fails where it
// was but the server does not offer checkpoints.
func requireCheckpoint(t *testing.T, s *server) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(filepath.Dir(baseTar), "python.tar")); err != nil {
		t.Skip("python.tar is missing (run scripts/setup.sh)")
	}
	info, err := s.c.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !info.Capabilities.Checkpoint {
		if found, _ := filepath.Glob("/var/cache/hutch/criu/*/criu"); len(found) > 0 {
			t.Fatalf("CRIU is built (%v) but the server offers no checkpoint: %+v", found, info)
		}
		t.Skip("CRIU is not built (scripts/setup.sh builds it)")
	}
}

// TestPauseReleaseResume pauses a python process holding 256 MiB with
// its memory released: the sandbox's memory cgroup empties, and resume
// brings back the same process with the same memory, open file and
// working directory, its agent, its port through the proxy and its
// egress. Another sandbox on disk survives a SIGKILL of the server, and
// the delete of a third leaves no image behind.
func TestPauseReleaseResume(t *testing.T) {
	s := startServer(t, "")
	requireCheckpoint(t, s)
	sb := newHolder(t, s, "holder")
	before := waitHolding(t, s, sb.ID)
	poll.Until(t, "the port to answer", func() bool {
		return call(t, s, "GET", portURL(s, sb.ID, 8000, "/"), "", s.key, "").status == 200
	})
	egress, _ := reaches(t, s.c, sb.ID, "deb.debian.org:80")
	if !egress {
		t.Log("no egress from this host's sandboxes; egress after restore is not checked")
	}
	resident := memoryUsage(t, sb.ID)
	if resident < 256<<20 {
		t.Fatalf("the running holder's cgroup uses %d bytes", resident)
	}

	start := time.Now()
	paused, err := s.c.Pause(ctx(t), sb.ID, client.ReleaseMemory())
	if err != nil {
		t.Fatal(err)
	}
	pauseTook := time.Since(start)
	if paused.State != "paused" || paused.Pause == nil || paused.Pause.Memory != "on-disk" || paused.Pause.SizeBytes < 256<<20 {
		t.Fatalf("after pause(release): %+v %+v", paused, paused.Pause)
	}
	if after := memoryUsage(t, sb.ID); after > 32<<20 {
		t.Fatalf("after release the cgroup still uses %d bytes (was %d)", after, resident)
	}
	if n := len(cgroupProcs(sb.ID)); n != 0 {
		t.Fatalf("%d processes left after release", n)
	}

	start = time.Now()
	resumed, err := s.c.Resume(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	resumeTook := time.Since(start)
	if resumed.State != "running" || resumed.Pause != nil {
		t.Fatalf("after resume: %+v", resumed)
	}
	t.Logf("256 MiB: pause(release) %v, resume %v, image %d bytes", pauseTook, resumeTook, paused.Pause.SizeBytes)
	checkSame(t, sb.ID, before)
	if out := sh(t, s, sb.ID, "cat /dev/shm/count"); !strings.HasPrefix(out, strconv.Itoa(before.pid)+" ") {
		t.Fatalf("the agent reads %q", out)
	}
	if r := call(t, s, "GET", portURL(s, sb.ID, 8000, "/"), "", s.key, ""); r.status != 200 || r.body != "up\n" {
		t.Fatalf("port after restore: %d %q", r.status, r.body)
	}
	if egress {
		if ok, out := reaches(t, s.c, sb.ID, "deb.debian.org:80"); !ok {
			t.Fatalf("no egress after restore: %s", out)
		}
	}
	evs, err := s.c.Events(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	for _, e := range evs.Items {
		if e.Type == "memory" {
			moves = append(moves, e.Message)
		}
	}
	if len(moves) != 2 || !strings.Contains(moves[0], "to disk") || !strings.Contains(moves[1], "restored") {
		t.Fatalf("memory events %q", moves)
	}

	// Another holder goes to disk, the server is killed and comes back:
	// the sandbox is still on disk and resumes as it was.
	other := newHolder(t, s, "holder2")
	before = waitHolding(t, s, other.ID)
	if _, err := s.c.Pause(ctx(t), other.ID, client.ReleaseMemory()); err != nil {
		t.Fatal(err)
	}
	gone := newHolder(t, s, "holder3")
	waitHolding(t, s, gone.ID)
	if _, err := s.c.Pause(ctx(t), gone.ID, client.ReleaseMemory()); err != nil {
		t.Fatal(err)
	}
	s.crash()
	s2 := startServer(t, s.dataDir)
	got, err := s2.c.GetSandbox(ctx(t), other.ID)
	if err != nil || got.State != "paused" || got.Pause == nil || got.Pause.Memory != "on-disk" {
		t.Fatalf("after the server's SIGKILL: %+v %v", got, err)
	}
	if _, err := s2.c.Resume(ctx(t), other.ID); err != nil {
		t.Fatal(err)
	}
	checkSame(t, other.ID, before)

	// Delete of a sandbox on disk leaves no image (nor anything else of
	// it) in the data dir.
	if _, err := s2.c.DeleteSandbox(ctx(t), gone.ID); err != nil {
		t.Fatal(err)
	}
	waitGone(t, gone.ID)
	filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(path, gone.ID) {
			t.Errorf("left after delete: %s", path)
		}
		return nil
	})
}

// TestPauseReleaseAgain takes one holder of 256 MiB through three
// pause(release)/resume cycles, the second across a SIGKILL of the
// server: a sandbox restored from disk goes to disk again, and each
// resume brings back the same process with the same memory, which the
// agent still reaches.
func TestPauseReleaseAgain(t *testing.T) {
	s := startServer(t, "")
	requireCheckpoint(t, s)
	sb := newHolder(t, s, "again")
	before := waitHolding(t, s, sb.ID)
	for cycle := 1; cycle <= 3; cycle++ {
		paused, err := s.c.Pause(ctx(t), sb.ID, client.ReleaseMemory())
		if err != nil {
			t.Fatalf("pause(release) %d: %v", cycle, err)
		}
		if paused.State != "paused" || paused.Pause == nil || paused.Pause.Memory != "on-disk" {
			t.Fatalf("after pause(release) %d: %+v %+v", cycle, paused, paused.Pause)
		}
		if n := len(cgroupProcs(sb.ID)); n != 0 {
			t.Fatalf("%d processes left after release %d", n, cycle)
		}
		if cycle == 2 {
			s.crash()
			s = startServer(t, s.dataDir)
		}
		resumed, err := s.c.Resume(ctx(t), sb.ID)
		if err != nil {
			t.Fatalf("resume %d: %v", cycle, err)
		}
		if resumed.State != "running" || resumed.Pause != nil {
			t.Fatalf("after resume %d: %+v", cycle, resumed)
		}
		checkSame(t, sb.ID, before)
		if out := sh(t, s, sb.ID, "cat /dev/shm/count"); !strings.HasPrefix(out, strconv.Itoa(before.pid)+" ") {
			t.Fatalf("after resume %d the agent reads %q", cycle, out)
		}
		before = readHolding(sb.ID)
	}
}

func newHolder(t *testing.T, s *server, name string) *api.Sandbox {
	t.Helper()
	return create(t, s, api.CreateSandboxRequest{Name: name, Image: "python", Entrypoint: []string{"python3", "-c", holder}})
}

// waitHolding waits for the holder to hold its 256 MiB.
func waitHolding(t *testing.T, s *server, id string) holding {
	t.Helper()
	var h holding
	if !poll.Wait(2*time.Minute, func() bool { h = readHolding(id); return h.size == 256<<20 && h.n > 0 }) {
		sb, err := s.c.GetSandbox(ctx(t), id)
		t.Fatalf("the holder does not hold 256 MiB: %+v; init %d, procs %v; sandbox %+v %v",
			h, initPIDOf(id), cgroupProcs(id), sb, err)
	}
	return h
}

// checkSame waits for the holder to count on and checks it is the process
// it was, with the same memory, working directory and open file.
func checkSame(t *testing.T, id string, before holding) {
	t.Helper()
	var after holding
	poll.Until(t, "the restored holder to count on", func() bool {
		after = readHolding(id)
		return after.n > before.n
	})
	if after.pid != before.pid || after.size != before.size || after.digest != before.digest {
		t.Fatalf("restored holder %+v, before %+v: not the same process and memory", after, before)
	}
	pid := hostPIDOf(id, before.pid)
	if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); !strings.HasSuffix(cwd, "/dev/shm/work") {
		t.Fatalf("restored cwd %q", cwd)
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	found := false
	for _, fd := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.HasSuffix(l, "/dev/shm/work/open") {
			found = true
		}
	}
	if !found {
		t.Fatal("the restored holder lost its open file")
	}
}

// TestTieredPause: a sandbox paused in memory moves to disk once the
// server's pause-release-after has passed, and resumes from there.
func TestTieredPause(t *testing.T) {
	s := startServer(t, "", "--pause-release-after", "2s", "--reconcile-interval", "500ms")
	requireCheckpoint(t, s)
	sb := newHolder(t, s, "tiered")
	before := waitHolding(t, s, sb.ID)
	paused, err := s.c.Pause(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if paused.Pause == nil || paused.Pause.Memory != "resident" || paused.Pause.ReleaseAt == nil {
		t.Fatalf("pause without a mode: %+v", paused.Pause)
	}
	poll.Until(t, "the tiered pause to move it to disk", func() bool {
		got, err := s.c.GetSandbox(ctx(t), sb.ID)
		return err == nil && got.State == "paused" && got.Pause != nil && got.Pause.Memory == "on-disk"
	})
	evs, err := s.c.Events(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	tiered := false
	for _, e := range evs.Items {
		tiered = tiered || (e.Type == "memory" && e.Cause == "tiered-pause" && strings.Contains(e.Message, "to disk"))
	}
	if !tiered {
		t.Fatalf("no tiered-pause memory event: %+v", evs.Items)
	}
	if _, err := s.c.Resume(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	checkSame(t, sb.ID, before)
}

// TestPauseReleaseDamagedImage cuts the memory image of a holder paused
// on disk in half: resume ends, within the driver's bound, in error with
// the reason, the holder's files are intact, and start boots it fresh.
func TestPauseReleaseDamagedImage(t *testing.T) {
	s := startServer(t, "")
	requireCheckpoint(t, s)
	sb := newHolder(t, s, "damaged")
	old := waitHolding(t, s, sb.ID)
	sh(t, s, sb.ID, "echo kept > /root/kept")
	if _, err := s.c.Pause(ctx(t), sb.ID, client.ReleaseMemory()); err != nil {
		t.Fatal(err)
	}
	var largest string
	var size int64
	filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.Contains(path, sb.ID) || !strings.Contains(path, "/checkpoint/pages-") {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Size() > size {
			largest, size = path, fi.Size()
		}
		return nil
	})
	if largest == "" {
		t.Fatal("no pages image of the paused holder in the data dir")
	}
	if err := os.Truncate(largest, size/2); err != nil {
		t.Fatal(err)
	}
	// CRIU hangs on this image; the driver's bound (two minutes and a
	// second per 32 MiB) ends it, so the call may outlast ctx's.
	long, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := s.c.Resume(long, sb.ID); err == nil {
		t.Fatal("resume of a damaged image succeeded")
	}
	got, err := s.c.GetSandbox(ctx(t), sb.ID)
	if err != nil || got.State != "error" || !strings.Contains(got.StateReason, "restore") {
		t.Fatalf("after the failed resume: %+v %v", got, err)
	}
	started, err := s.c.Start(ctx(t), sb.ID)
	if err != nil || started.State != "running" {
		t.Fatalf("start after the failed resume: %+v %v", started, err)
	}
	if now := waitHolding(t, s, sb.ID); now.digest == old.digest {
		t.Fatalf("start restored the memory (%+v) instead of booting fresh", now)
	}
	if out := sh(t, s, sb.ID, "cat /root/kept"); out != "kept\n" {
		t.Fatalf("the file after start: %q", out)
	}
}
