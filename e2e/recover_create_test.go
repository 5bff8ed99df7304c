package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestCrashDuringConcurrentCreates kills the server with SIGKILL while
// twelve creates are under way, and checks that the restarted server
// finishes every create it had recorded: each sandbox that exists after
// the restart is running and answers, and at least one got there by
// recovery (creating -> running) rather than before the crash.
func TestCrashDuringConcurrentCreates(t *testing.T) {
	s := startServer(t, "")
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Most of these fail when the server dies; the restarted
			// server's list says which were recorded.
			s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: fmt.Sprintf("cut%02d", i)})
		}()
	}
	// The driver's first sandbox directory: creates are recorded and the
	// runtime work is under way.
	dir := filepath.Join(s.dataDir, "runtime", "sandboxes")
	if !poll.Wait(poll.Timeout, func() bool {
		entries, _ := os.ReadDir(dir)
		return len(entries) > 0
	}) {
		t.Fatal("no create reached the runtime")
	}
	s.crash()
	wg.Wait()

	s2 := startServer(t, s.dataDir)
	l, err := s2.c.ListSandboxes(ctx(t), client.ListOptions{PageSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range l.Items {
		cleanup(t, sb.ID)
	}
	if len(l.Items) == 0 {
		t.Fatal("no create was recorded before the crash")
	}
	recovered := 0
	for _, sb := range l.Items {
		if sb.State != "running" {
			t.Errorf("%s (%s) is %s after the restart: %q", sb.Name, sb.ID, sb.State, sb.StateReason)
			continue
		}
		if _, err := s2.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"true"}}); err != nil {
			t.Errorf("exec in %s after the restart: %v", sb.Name, err)
		}
		evs, err := s2.c.Events(ctx(t), sb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if hasEvent(evs.Items, "creating", "running", "reconcile") {
			recovered++
		}
	}
	t.Logf("%d of %d creates recorded before the crash, %d finished by recovery", len(l.Items), n, recovered)
	if recovered == 0 {
		t.Errorf("no create was cut short by the crash (the test did not test recovery): %d sandboxes, all done before it", len(l.Items))
	}
}
