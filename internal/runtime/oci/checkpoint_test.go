package oci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
)

// counterScript holds about 64 MiB in the shell's memory, keeps a file
// open on fd 5 and a working directory of its own, and writes "pid count"
// on every tick.
const counterScript = `mkdir -p /tmp/work && cd /tmp/work && exec 5>open &&
x=$(head -c 67108864 /dev/zero | tr '\0' a) && i=0 &&
while true; do i=$((i+1)); echo "$$ $i ${#x}" > /tmp/count; sleep 0.05; done`

func checkpointDriver(t *testing.T) *Driver {
	d := newInternalDriver(t)
	if why := d.checkpointUnsupported(); why != "" {
		t.Skip(why)
	}
	return d
}

// startCounter creates a sandbox (ID prefix plus this pid) running
// counterScript, deleted at the test's end, and returns it once the
// counter holds its 64 MiB.
func startCounter(t *testing.T, d *Driver, prefix string) (runtime.Spec, counter) {
	t.Helper()
	ctx := context.Background()
	s := runtime.Spec{ID: prefix + strconv.Itoa(os.Getpid()), DiskMB: 64, Entrypoint: []string{"/bin/sh", "-c", counterScript}}
	t.Cleanup(func() { _ = d.Delete(ctx, s.ID) })
	if err := d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	var c counter
	poll.Until(t, "the counter to hold its memory", func() bool {
		c = readCounter(d, s.ID)
		return c.n > 0 && c.size == 64<<20
	})
	return s, c
}

// TestCheckpointRestore checkpoints a sandbox holding 64 MiB and brings it
// back: its memory is freed meanwhile, and afterwards the same process
// counts on from where it was, with its memory, open file and working
// directory.
func TestCheckpointRestore(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	s, before := startCounter(t, d, "ckpt")
	// A connection the host holds to the agent across the checkpoint
	// (an idle pooled one) is closed by it, not dumped.
	held, err := d.DialAgent(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.Write([]byte("GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Read(make([]byte, 16)); err != nil {
		t.Fatalf("agent before checkpoint: %v", err)
	}
	// And one the frozen agent never accepted.
	waiting, err := d.DialAgent(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	if err := d.Pause(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	resident := d.memoryUsage(s.ID)
	if resident < 64<<20 {
		t.Fatalf("memory of the paused sandbox is %d, want at least 64 MiB", resident)
	}
	size, err := d.Checkpoint(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if size < 64<<20 {
		t.Fatalf("checkpoint is %d bytes, want at least the 64 MiB held", size)
	}
	if n := len(d.cg.procs(s.ID)); n != 0 {
		t.Fatalf("%d processes left after checkpoint", n)
	}
	if after := d.memoryUsage(s.ID); after > resident/4 {
		t.Fatalf("memory after checkpoint is %d, was %d", after, resident)
	}
	st, err := d.Recover(ctx, s.ID)
	if err != nil || st.State != runtime.StatePaused {
		t.Fatalf("Recover of a checkpointed sandbox = %+v, %v; want paused", st, err)
	}
	// Resume restores it first.
	if err := d.Resume(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.paths(s.ID).checkpointDir()); !os.IsNotExist(err) {
		t.Fatalf("checkpoint left after restore: %v", err)
	}
	var after counter
	poll.Until(t, "the restored counter to count on", func() bool {
		after = readCounter(d, s.ID)
		return after.n > before.n
	})
	if after.pid != before.pid || after.size != before.size {
		t.Fatalf("after restore the counter is %+v, before %+v: not the same process and memory", after, before)
	}
	sh := hostPID(t, d, s.ID, before.pid)
	if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", sh)); !strings.HasSuffix(cwd, "/tmp/work") {
		t.Fatalf("restored cwd is %q", cwd)
	}
	if f, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/5", sh)); !strings.HasSuffix(f, "/tmp/work/open") {
		t.Fatalf("restored fd 5 is %q", f)
	}
	conn, err := d.DialAgent(ctx, s.ID)
	if err != nil {
		t.Fatalf("agent after restore: %v", err)
	}
	conn.Close()
}

// checkCounting waits for the counter to count on from where it was.
func checkCounting(t *testing.T, d *Driver, id string, before counter) {
	t.Helper()
	var after counter
	poll.Until(t, "the restored counter to count on", func() bool {
		after = readCounter(d, id)
		return after.n > before.n
	})
	if after.pid != before.pid || after.size != before.size {
		t.Fatalf("after restore the counter is %+v, before %+v", after, before)
	}
}

// TestCheckpointDiscardedByStop: a stop ends what a checkpoint held, and
// delete leaves nothing.
func TestCheckpointDiscardedByStop(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	s := runtime.Spec{ID: "ckstop" + strconv.Itoa(os.Getpid()), DiskMB: 64}
	t.Cleanup(func() { _ = d.Delete(ctx, s.ID) })
	if err := d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx, s.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.paths(s.ID).checkpointDir()); !os.IsNotExist(err) {
		t.Fatalf("checkpoint kept after stop: %v", err)
	}
	if st, err := d.Recover(ctx, s.ID); err != nil || st.State != runtime.StateStopped {
		t.Fatalf("after stop: %+v %v", st, err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.paths(s.ID).dir); !os.IsNotExist(err) {
		t.Fatalf("sandbox directory left after delete: %v", err)
	}
}

type counter struct {
	pid, n, size int
}

func readCounter(d *Driver, id string) counter {
	rec, err := d.load(id)
	if err != nil || !rec.initAlive() {
		return counter{}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/tmp/count", rec.InitPID))
	if err != nil {
		return counter{}
	}
	var c counter
	fmt.Sscanf(string(b), "%d %d %d", &c.pid, &c.n, &c.size)
	return c
}

func (d *Driver) memoryUsage(id string) int64 {
	n, _ := d.cg.readInt("memory", id, "memory.usage_in_bytes")
	return n
}

// hostPID finds the host pid of the sandbox process whose pid in the
// sandbox is nspid.
func hostPID(t *testing.T, d *Driver, id string, nspid int) int {
	t.Helper()
	for _, pid := range d.cg.procs(id) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
				f := strings.Fields(v)
				if len(f) > 1 && f[len(f)-1] == strconv.Itoa(nspid) {
					return pid
				}
			}
		}
	}
	t.Fatalf("no process with pid %d in sandbox %s", nspid, id)
	return 0
}

// TestRestoreAfterHostReboot checkpoints a sandbox, then takes away what
// a reboot takes (its mounts, loop device, cgroups and network namespace)
// and resumes it: the driver rebuilds them and the same process answers.
func TestRestoreAfterHostReboot(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	s, before := startCounter(t, d, "ckboot")
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	p := d.paths(s.ID)
	if err := unmountUnder(p.dir); err != nil {
		t.Fatal(err)
	}
	detachLoops(p.diskImg)
	if err := d.cg.remove(s.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.net.Remove(s.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Resume(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	var after counter
	poll.Until(t, "the counter to count on after the reboot", func() bool {
		after = readCounter(d, s.ID)
		return after.n > before.n
	})
	if after.pid != before.pid || after.size != before.size {
		t.Fatalf("after restore the counter is %+v, before %+v", after, before)
	}
	if lim, _ := d.cg.readInt("memory", s.ID, "memory.limit_in_bytes"); lim != DefaultMemoryMB<<20 {
		t.Fatalf("memory limit after restore: %d", lim)
	}
	conn, err := d.DialAgent(ctx, s.ID)
	if err != nil {
		t.Fatalf("agent after restore: %v", err)
	}
	conn.Close()
}

// TestCheckpointAgain takes a sandbox through pause(release) and resume
// three times: each restore leaves a sandbox that checkpoints again, the
// same process counts on with its memory every time, and init, which
// executes itself after each restore, stays closed to the sandbox.
func TestCheckpointAgain(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	s, before := startCounter(t, d, "ckagain")
	for cycle := 1; cycle <= 3; cycle++ {
		if err := d.Pause(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Checkpoint(ctx, s.ID); err != nil {
			t.Fatalf("checkpoint %d: %v", cycle, err)
		}
		if n := len(d.cg.procs(s.ID)); n != 0 {
			t.Fatalf("checkpoint %d left %d processes", cycle, n)
		}
		if err := d.Resume(ctx, s.ID); err != nil {
			t.Fatalf("resume %d: %v", cycle, err)
		}
		checkCounting(t, d, s.ID, before)
		if out, code := agentExec(t, d, s.ID, "echo", "back"); code != 0 || out != "back\n" {
			t.Fatalf("agent exec after restore %d: %q, exit %d", cycle, out, code)
		}
		// Init executes itself once thawed, and is as untraceable after.
		rec, err := d.load(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "the restored init to execute itself", func() bool { return execCount(rec.InitPID) == cycle })
		// (The runtime's exec does not know a restored container: through
		// the agent.)
		if out, code := agentExec(t, d, s.ID, "cat", "/proc/1/environ"); code == 0 {
			t.Fatalf("a sandbox process reads init's environment after restore %d: %q", cycle, out)
		}
		before = readCounter(d, s.ID)
	}
}

// agentExec runs argv through the sandbox's agent, over a connection
// of its own, and returns its stdout and exit code.
func agentExec(t *testing.T, d *Driver, id string, argv ...string) (string, int) {
	t.Helper()
	conn, err := d.DialAgent(context.Background(), id)
	if err != nil {
		t.Fatalf("dial the agent: %v", err)
	}
	defer conn.Close()
	body, _ := json.Marshal(map[string]any{"command": argv})
	req, _ := http.NewRequest("POST", "http://agent/exec", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Close = true
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("agent exec %v: %v", argv, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent exec %v: %s: %s", argv, resp.Status, b)
	}
	var res struct {
		Stdout   string `json:"stdout"`
		ExitCode int    `json:"exitCode"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("agent exec %v: %v", argv, err)
	}
	return res.Stdout, res.ExitCode
}

// TestRestoreOfTruncatedImage cuts the memory image of a checkpointed
// sandbox in half: the restore fails within the driver's bound instead
// of hanging, leaves no process behind and the sandbox's files as they
// were, and a start boots it fresh.
func TestRestoreOfTruncatedImage(t *testing.T) {
	d := checkpointDriver(t)
	d.restoreTimeout = 20 * time.Second
	ctx := context.Background()
	s, _ := startCounter(t, d, "cktrunc")
	if _, err := d.Exec(ctx, s.ID, "sh", "-c", "echo kept > /kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(d.paths(s.ID).checkpointDir(), "pages-*.img"))
	var largest string
	var size int64
	for _, p := range pages {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			largest, size = p, fi.Size()
		}
	}
	if largest == "" {
		t.Fatalf("no pages image in %v", pages)
	}
	if err := os.Truncate(largest, size/2); err != nil {
		t.Fatal(err)
	}
	err := d.Resume(ctx, s.ID)
	if err == nil {
		t.Fatal("resume of a truncated image succeeded")
	}
	t.Logf("resume: %v", err)
	if procs := d.cg.procs(s.ID); len(procs) != 0 {
		t.Fatalf("processes %v left by the failed restore", procs)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	out, err := d.Exec(ctx, s.ID, "cat", "/kept")
	if err != nil || string(out) != "kept\n" {
		t.Fatalf("the file after a fresh start: %q %v", out, err)
	}
}
