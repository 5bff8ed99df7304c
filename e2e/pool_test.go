package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestWarmPool runs a server keeping two prepared sandboxes of base: a
// create takes one (its event says createPath: pool) and runs its own
// entrypoint with its own env, a create with "pool": false boots cold,
// /v1/info shows the pool refilled, and a clean shutdown leaves nothing
// of any prepared sandbox on the host.
func TestWarmPool(t *testing.T) {
	s := startServer(t, "", "--pool-size", "2")
	waitPoolFull(t, s, "base")
	members := preparedIDs(t, s)
	if len(members) != 2 {
		t.Fatalf("prepared sandboxes on disk %v, want 2", members)
	}

	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Env: map[string]string{"GREETING": "from-the-pool"},
		Entrypoint: []string{"sh", "-c", "echo \"$GREETING\" > /tmp/greeting; exec sleep 3600"}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	if got := createPath(t, s, sb.ID); got != "pool" {
		t.Fatalf("create with a full pool: createPath %q, want pool", got)
	}
	var out string
	if !poll.Wait(time.Minute, func() bool {
		res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"cat", "/tmp/greeting"}})
		if err == nil && res.ExitCode == 0 {
			out = res.Stdout
		}
		return out != ""
	}) {
		t.Fatal("the taken sandbox's entrypoint never wrote /tmp/greeting")
	}
	if strings.TrimSpace(out) != "from-the-pool" {
		t.Fatalf("entrypoint of the taken sandbox saw GREETING=%q", out)
	}

	cold, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Pool: new(bool)})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, cold.ID)
	if got := createPath(t, s, cold.ID); got != "cold" {
		t.Fatalf(`create with "pool": false: createPath %q, want cold`, got)
	}
	waitPoolFull(t, s, "base")
	members = append(members, preparedIDs(t, s)...)

	s.stop()
	if left := preparedIDs(t, s); len(left) != 0 {
		t.Errorf("prepared sandboxes left on disk after shutdown: %v", left)
	}
	for _, id := range members {
		waitGone(t, id)
	}
}

// waitPoolFull waits until /v1/info says the server's one pool, of
// image, has its two members; a server without one fails the test.
func waitPoolFull(t *testing.T, s *server, image string) {
	t.Helper()
	var pools []api.PoolInfo
	if !poll.Wait(2*time.Minute, func() bool {
		info, err := s.c.Info(ctx(t))
		if err != nil {
			return false
		}
		pools = info.Pools
		return len(pools) == 1 && pools[0].Image == image && pools[0].Size == 2 && pools[0].Ready == 2
	}) {
		t.Fatalf("the pool of %s never filled: /v1/info pools %+v (empty: the runtime prepares no sandboxes)", image, pools)
	}
}

// preparedIDs lists the prepared sandboxes the oci driver keeps on disk.
func preparedIDs(t *testing.T, s *server) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(s.dataDir, "runtime", "sandboxes", "pool_*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m {
		if _, err := os.Stat(p); err == nil {
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

// createPath is what the event that settled sandbox id's create says
// served it.
func createPath(t *testing.T, s *server, id string) string {
	t.Helper()
	evs, err := s.c.Events(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.From == "creating" && e.To == "running" {
			return strings.TrimPrefix(e.Message, "createPath: ")
		}
	}
	t.Fatalf("no creating -> running event: %+v", evs.Items)
	return ""
}
