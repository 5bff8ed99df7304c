package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// soakCycles is how many lifecycles TestLifecycleSoak runs: a few dozen
// in CI (about 0.3 s each on the 2-core machine), HUTCH_SOAK_CYCLES=200
// (or more) for a soak run.
func soakCycles(t *testing.T) int {
	v := os.Getenv("HUTCH_SOAK_CYCLES")
	if v == "" {
		return 25
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("HUTCH_SOAK_CYCLES=%q is not a positive number", v)
	}
	return n
}

// TestLifecycleSoak runs create, pause, resume, stop, start and delete
// over and over through the API, and checks that the server is left with
// the children it had before (no zombie, no process), and the host with
// nothing of any of the sandboxes: no process, mount, cgroup, loop device,
// interface or firewall rule, and no mount or loop device under the data
// dir.
func TestLifecycleSoak(t *testing.T) {
	n := soakCycles(t)
	s := startServer(t, "")
	before := serverHost(s)
	var ids []string
	took := map[string]time.Duration{}
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: fmt.Sprintf("soak%d", i)})
		took["create"] += time.Since(t0)
		if err != nil {
			t.Fatalf("cycle %d: create: %v", i, err)
		}
		cleanup(t, sb.ID)
		ids = append(ids, sb.ID)
		for _, step := range []struct {
			name string
			do   func() (*api.Sandbox, error)
			want string
		}{
			{"pause", func() (*api.Sandbox, error) { return s.c.Pause(ctx(t), sb.ID) }, "paused"},
			{"resume", func() (*api.Sandbox, error) { return s.c.Resume(ctx(t), sb.ID) }, "running"},
			{"stop", func() (*api.Sandbox, error) { return s.c.Stop(ctx(t), sb.ID, client.StopOptions{}) }, "stopped"},
			{"start", func() (*api.Sandbox, error) { return s.c.Start(ctx(t), sb.ID) }, "running"},
			{"delete", func() (*api.Sandbox, error) { return s.c.DeleteSandbox(ctx(t), sb.ID) }, "deleted"},
		} {
			t0 := time.Now()
			got, err := step.do()
			took[step.name] += time.Since(t0)
			if err != nil || got.State != step.want {
				t.Fatalf("cycle %d: %s: %+v %v", i, step.name, got, err)
			}
		}
		untrack(sb.ID)
	}
	t.Logf("%d lifecycles in %v (%v each)", n, time.Since(start).Round(time.Millisecond),
		(time.Since(start) / time.Duration(n)).Round(time.Millisecond))
	for _, step := range []string{"create", "pause", "resume", "stop", "start", "delete"} {
		t.Logf("  %s: %v each", step, (took[step] / time.Duration(n)).Round(100*time.Microsecond))
	}
	var after hostState
	if !poll.Wait(20*time.Second, func() bool { after = serverHost(s); return after.equal(before) }) {
		t.Errorf("after %d lifecycles the server's host went from\n%s\nto\n%s", n, before, after)
	}
	t.Logf("server children before %d (zombies %d), after %d (zombies %d)",
		len(before.children), before.zombies, len(after.children), after.zombies)
	for _, id := range ids {
		ocitest.AssertGone(t, id)
	}
}

// untrack drops id from the sandboxes the live server deletes at the end.
func untrack(id string) {
	tracked = slices.DeleteFunc(tracked, func(x string) bool { return x == id })
}

// hostState is what a server has on the host: its children (zombies
// counted apart), and the mounts and loop devices under its data dir.
type hostState struct {
	children []string // "pid comm state"
	zombies  int
	mounts   []string
	loops    []string
}

func (h hostState) equal(o hostState) bool {
	return slices.Equal(h.children, o.children) && slices.Equal(h.mounts, o.mounts) && slices.Equal(h.loops, o.loops)
}

func (h hostState) String() string {
	return fmt.Sprintf("children %q\nmounts %q\nloop devices %q", h.children, h.mounts, h.loops)
}

func serverHost(s *server) hostState {
	var h hostState
	pid := s.cmd.Process.Pid
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		comm := string(b[strings.IndexByte(string(b), '(')+1 : i])
		h.children = append(h.children, filepath.Base(filepath.Dir(p))+" "+comm+" "+f[0])
		if f[0] == "Z" {
			h.zombies++
		}
	}
	slices.Sort(h.children)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, s.dataDir) {
			h.mounts = append(h.mounts, line)
		}
	}
	backing, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, l := range backing {
		if b, err := os.ReadFile(l); err == nil && strings.Contains(string(b), s.dataDir) {
			h.loops = append(h.loops, l)
		}
	}
	return h
}
