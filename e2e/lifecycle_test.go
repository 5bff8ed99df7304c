package e2e

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// counter boots, notes the boot in /root/boots, and counts in memory,
// writing each value to /tmp/count.
var counter = []string{"sh", "-c", `echo boot >> /root/boots; i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done`}

func readInt(t *testing.T, pid int, path string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s", pid, path))
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func boots(t *testing.T, pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/root/boots", pid))
	return strings.Count(string(b), "boot")
}

// cleanup has the sandbox deleted when the test ends, by the server that
// is up then, and checks that nothing of it is left on the host.
func cleanup(t *testing.T, id string) { tracked = append(tracked, id) }

func createCounter(t *testing.T, s *server, name string) *api.Sandbox {
	t.Helper()
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: name, Entrypoint: counter})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	if sb.State != "running" {
		t.Fatalf("created sandbox is %s", sb.State)
	}
	return sb
}

func TestLifecycleWithRealSandbox(t *testing.T) {
	s := startServer(t, "")
	info, err := s.c.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// Where runsc is built, gvisor runs beside oci (info.Runtime names
	// both); the default stays oci on crun.
	def := ""
	for _, r := range info.Runtimes {
		if r.Name == info.DefaultRuntime {
			def = r.Driver
		}
	}
	if c := info.Capabilities; def != "oci/crun" || !strings.HasSuffix(info.Runtime, "oci/crun") || !c.Pause || !c.Archive || !c.Network || !c.DiskLimit || !c.Agent {
		t.Fatalf("the real server reports %+v", info)
	}
	sb := createCounter(t, s, "counter")
	pid := initPID(t, sb.ID)
	if pid == 0 {
		t.Fatal("no process runs in the sandbox")
	}
	poll.Until(t, "the counter to count", func() bool { return readInt(t, pid, "/tmp/count") > 2 })

	if _, err := s.c.Pause(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	frozen := readInt(t, pid, "/tmp/count")
	for i := 0; i < 3; i++ { // several reads across well over the loop's period
		if got := readInt(t, pid, "/tmp/count"); got != frozen {
			t.Fatalf("paused counter moved from %d to %d", frozen, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := s.c.Resume(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the counter to continue", func() bool { return readInt(t, pid, "/tmp/count") > frozen })
	if got := readInt(t, pid, "/tmp/count"); got > frozen+20 || boots(t, pid) != 1 {
		t.Fatalf("after resume the counter is %d (paused at %d), boots %d: it restarted instead of continuing", got, frozen, boots(t, pid))
	}

	if _, err := s.c.Stop(ctx(t), sb.ID, client.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := initPID(t, sb.ID); p != 0 {
		t.Fatalf("stopped sandbox still has process %d", p)
	}
	got, err := s.c.Start(ctx(t), sb.ID)
	if err != nil || got.State != "running" {
		t.Fatalf("start: %v %v", got, err)
	}
	pid = initPID(t, sb.ID)
	poll.Until(t, "the second boot", func() bool { return boots(t, pid) == 2 })

	if _, err := s.c.DeleteSandbox(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	waitGone(t, sb.ID)
	if got, err := s.c.GetSandbox(ctx(t), sb.ID); err != nil || got.State != "deleted" {
		t.Fatalf("after delete: %v %v", got, err)
	}
}

func TestForceStopIsImmediate(t *testing.T) {
	s := startServer(t, "")
	// This sandbox ignores SIGTERM: only the SIGKILL of a force stop ends it.
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Entrypoint: []string{"sh", "-c", "trap '' TERM; while :; do sleep 1; done"}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	got, err := s.c.Stop(ctx(t), sb.ID, client.StopOptions{Force: true})
	if err != nil || got.State != "stopped" || initPID(t, sb.ID) != 0 {
		t.Fatalf("force stop: %v %v", got, err)
	}
}

func TestUnknownImageFailsNamingIt(t *testing.T) {
	s := startServer(t, "")
	// A registry on a closed loopback port: nothing leaves the machine.
	_, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "noimg", Image: "localhost:1/nothing/here:v1"})
	var ce *client.Error
	if err == nil || !errors.As(err, &ce) || ce.Status < 400 || !strings.Contains(ce.Message, "localhost:1/nothing/here") {
		t.Fatalf("create with an unreachable image: %v", err)
	}
	sb, err := s.c.GetSandbox(ctx(t), "noimg")
	if err != nil || sb.State != "error" || !strings.Contains(sb.StateReason, "localhost:1/nothing/here") {
		t.Fatalf("failed sandbox: %+v %v", sb, err)
	}
	cleanup(t, sb.ID)
}

func TestConcurrentCreates(t *testing.T) {
	s := startServer(t, "")
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: fmt.Sprintf("c%02d", i)})
			if err == nil {
				ids[i] = sb.ID
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		if id != "" {
			cleanup(t, id)
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	l, err := s.c.ListSandboxes(ctx(t), client.ListOptions{States: []string{"running"}, PageSize: 200})
	if err != nil || l.Pagination.TotalItems != n {
		t.Fatalf("running after concurrent creates: %v %v", l.Pagination, err)
	}
}
