// Package runtimetest is the suite every runtime.Runtime driver passes,
// against real sandboxes: what the lifecycle promises (pause really
// freezes, stop keeps the filesystem, delete leaves nothing) is checked
// from outside the driver, through a Probe, not taken from its word.
//
// The suite first runs runtime.Check on the driver, then skips each test
// whose capability the driver does not declare (Pause, DiskLimit, Network,
// Agent, Archive, Pool), naming the capability in the skip message. The rest
// runs on every driver.
//
// # Plugging in a driver
//
// A driver's own test package calls Run with two things. The Harness
// builds the driver (New, called twice on one state directory to simulate
// a server restart), names an image the driver resolves to a busybox root
// filesystem, and runs commands inside a sandbox (Exec), which is not part
// of runtime.Runtime. The Probe looks at sandboxes the way an operator of
// that driver would, without asking the driver: what a deleted sandbox
// left behind, whether its processes are alive or frozen, a file read from
// outside, a kill from outside, the uid its root has where it really runs.
//
// The oci driver's probe lives in internal/runtime/oci/ocitest and reads
// the host (/proc, cgroup hierarchies, loop devices, interfaces,
// iptables). A gVisor driver would look at the host side of its sandbox
// (the runsc sandbox and gofer processes, their cgroups, mounts and
// veths), reading files through its gofer root or `runsc exec`; a
// Kubernetes driver would ask the API server and the node (pods, volumes,
// network policies left behind, the pod's cgroup on the node). A probe
// that cannot observe one thing (a host uid behind a pod) returns an error
// wrapping errors.ErrUnsupported from that method, and the suite logs that
// check as not made instead of failing; Leftovers, ReadFile, Alive and
// Kill must work, or the suite has nothing to check a driver against.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Harness is how a driver's test builds and drives the driver.
type Harness struct {
	// New returns a driver keeping its state in stateDir. Called again
	// with the same dir it must find the first one's sandboxes: that is
	// how the suite simulates a server restart.
	New func(t testing.TB, stateDir string) runtime.Runtime
	// StateDir returns a fresh state directory for one subtest.
	StateDir func(t testing.TB) string
	// Image is a reference New's driver resolves to a busybox root
	// filesystem: its shell and applets (httpd included) and an
	// /etc/group, which the archive test deletes.
	Image string
	// Exec runs argv in a running sandbox and returns its combined output
	// and any error (a non-zero exit is an error).
	Exec func(ctx context.Context, rt runtime.Runtime, id string, argv ...string) (string, error)
	// ConcurrentCreates is how many sandboxes ConcurrentCreates makes at
	// once; 0 is 50. A driver whose every sandbox is a kernel of its own
	// (gVisor) declares fewer: the burst checks races, not capacity.
	ConcurrentCreates int
}

// timeout bounds every wait of the suite: generous, since the suite
// checks behaviour, never speed.
const timeout = 60 * time.Second

// capability is a Capabilities flag a test needs, by name.
type capability struct {
	name string
	has  func(runtime.Capabilities) bool
}

var (
	always    = capability{}
	pause     = capability{"Pause", func(c runtime.Capabilities) bool { return c.Pause }}
	diskLimit = capability{"DiskLimit", func(c runtime.Capabilities) bool { return c.DiskLimit }}
	network   = capability{"Network", func(c runtime.Capabilities) bool { return c.Network }}
	ports     = capability{"Ports", func(c runtime.Capabilities) bool { return c.Ports }}
	agent     = capability{"Agent", func(c runtime.Capabilities) bool { return c.Agent }}
	archive   = capability{"Archive", func(c runtime.Capabilities) bool { return c.Archive }}
	pool      = capability{"Pool", func(c runtime.Capabilities) bool { return c.Pool }}
)

// suite is what every test gets: the harness, the probe and the driver's
// declared capabilities.
type suite struct {
	Harness
	probe Probe
	caps  runtime.Capabilities
}

// Run runs the suite on the driver h builds, observed through probe.
func Run(t *testing.T, h Harness, probe Probe) {
	rt := h.New(t, h.StateDir(t))
	if err := runtime.Check(rt); err != nil {
		t.Fatal(err)
	}
	s := &suite{Harness: h, probe: probe, caps: rt.Capabilities()}
	tests := []struct {
		name  string
		needs capability
		fn    func(*testing.T, *suite)
	}{
		{"PauseFreezesAndResumeContinues", pause, testPauseResume},
		{"StopKeepsFilesystem", always, testStopStart},
		{"MemoryLimitOOMKill", always, testOOM},
		{"PidsLimitHoldsForkBomb", always, testPids},
		{"Isolation", always, testIsolation},
		{"Confinement", always, testConfinement},
		{"DiskLimitENOSPC", diskLimit, testDiskLimit},
		{"DeleteIsIdempotent", always, testDeleteIdempotent},
		{"RecoverAfterRestart", always, testRecover},
		{"KilledFromOutsideRecoversStopped", always, testKilledOutside},
		{"ConcurrentCreates", always, testConcurrent},
		{"NetworkOffHasOnlyLoopback", network, testOnlyLoopback},
		{"DialPortWithoutInternet", ports, testDialPort},
		{"AgentWithoutNetwork", agent, testAgent},
		{"AgentConfinement", agent, testAgentConfinement},
		{"ArchiveRoundTrip", archive, testArchiveRoundTrip},
		{"PoolTakeBecomesTheUsers", pool, testPool},
		{"PoolDropAndFailedTakeLeaveNothing", pool, testPoolDropAndFailedTake},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs.has != nil && !tc.needs.has(s.caps) {
				t.Skipf("driver %s does not declare capability %s", rt.Name(), tc.needs.name)
			}
			tc.fn(t, s)
		})
	}
}

// newID returns a unique sandbox ID, so that leak checks can look for it
// by name.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "rt" + hex.EncodeToString(b)
}

// spec is a small sandbox running argv (or idling when argv is empty).
func (s *suite) spec(argv ...string) runtime.Spec {
	return runtime.Spec{ID: newID(), Image: s.Image, Entrypoint: argv, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
}

// create boots sp on rt and registers its deletion (and a check that it
// left nothing behind) for the end of the test, whatever the outcome.
func (s *suite) create(t *testing.T, rt runtime.Runtime, sp runtime.Spec) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := rt.Delete(ctx, sp.ID); err != nil {
			t.Errorf("cleanup: delete %s: %v", sp.ID, err)
		}
		s.assertGone(t, rt, sp.ID)
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := rt.Create(ctx, sp); err != nil {
		t.Fatalf("create %s: %v", sp.ID, err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the suite's timeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll.Wait(timeout, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func mustRecover(t *testing.T, rt runtime.Runtime, id string) runtime.Status {
	t.Helper()
	st, err := rt.Recover(ctxT(t), id)
	if err != nil {
		t.Fatalf("recover %s: %v", id, err)
	}
	return st
}
