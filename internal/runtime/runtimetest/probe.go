package runtimetest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
)

// Probe is how the suite sees a driver's sandboxes from outside the
// driver; each driver's test package supplies one (see the package doc).
// Every method gets the runtime under test, for probes that need its
// handles (a pid, a pod name), and the sandbox id.
type Probe interface {
	// Leftovers lists what sandbox id has left where the driver runs it
	// (mounts, cgroups, processes, devices, network interfaces, firewall
	// rules, API objects): empty once it is deleted, never empty while it
	// runs.
	Leftovers(ctx context.Context, rt runtime.Runtime, id string) ([]string, error)
	// ReadFile reads path of the running or paused sandbox's filesystem
	// without running anything in it, so that it works while it is frozen.
	ReadFile(ctx context.Context, rt runtime.Runtime, id, path string) ([]byte, error)
	// Alive reports whether any process of the sandbox still runs
	// (zombies do not count).
	Alive(ctx context.Context, rt runtime.Runtime, id string) (bool, error)
	// Frozen reports whether every process of the sandbox is frozen, as
	// the kernel (not the driver's record) has it.
	Frozen(ctx context.Context, rt runtime.Runtime, id string) (bool, error)
	// Kill ends the sandbox's processes from outside the driver, as a
	// crash or the OOM killer would.
	Kill(ctx context.Context, rt runtime.Runtime, id string) error
	// HostUID returns the uid the sandbox's root has where the sandbox
	// really runs.
	HostUID(ctx context.Context, rt runtime.Runtime, id string) (int, error)
}

// assertGone fails t for everything the probe finds left of sandbox id.
func (s *suite) assertGone(t *testing.T, rt runtime.Runtime, id string) {
	t.Helper()
	left, err := s.probe.Leftovers(context.Background(), rt, id)
	if err != nil {
		t.Errorf("probe: leftovers of %s: %v", id, err)
	}
	for _, leak := range left {
		t.Errorf("sandbox %s left behind: %s", id, leak)
	}
}

// observed reports whether the probe could make an observation: a probe
// that cannot (errors.ErrUnsupported) gets the check logged as not made,
// any other error fails the test.
func observed(t *testing.T, what string, err error) bool {
	t.Helper()
	switch {
	case err == nil:
		return true
	case errors.Is(err, errors.ErrUnsupported):
		t.Logf("not checked, the probe cannot see %s: %v", what, err)
		return false
	default:
		t.Fatalf("probe: %s: %v", what, err)
		return false
	}
}

// counter reads the counter file that counterScript publishes.
func (s *suite) counter(t *testing.T, rt runtime.Runtime, id string) (int, bool) {
	b, err := s.probe.ReadFile(ctxT(t), rt, id, "/tmp/counter")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}
