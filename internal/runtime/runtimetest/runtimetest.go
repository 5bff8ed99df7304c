// Package runtimetest is the suite every runtime.Runtime driver passes,
// against real processes: what the lifecycle promises (pause really
// freezes, stop keeps the filesystem, delete leaves nothing) is checked on
// the host, not taken from the driver's word.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// Harness is what a driver's test hands the suite.
type Harness struct {
	// New returns a driver keeping its state in stateDir. Called again
	// with the same dir it must find the first one's sandboxes: that is
	// how the suite simulates a server restart.
	New func(t testing.TB, stateDir string) runtime.Runtime
	// StateDir returns a fresh state directory for one subtest.
	StateDir func(t testing.TB) string
	// Image is a reference New's driver resolves to an image with a POSIX
	// shell and coreutils (busybox will do).
	Image string
	// Exec runs argv in a running sandbox and returns its combined output
	// and any error (a non-zero exit is an error).
	Exec func(ctx context.Context, rt runtime.Runtime, id string, argv ...string) (string, error)
	// HostPID returns the host pid of a process of the sandbox (its init),
	// for checks made from the host: its uid, its files while frozen, a
	// kill from outside.
	HostPID func(rt runtime.Runtime, id string) (int, error)
}

// timeout bounds every wait of the suite: generous, since the suite
// checks behaviour, never speed.
const timeout = 60 * time.Second

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"PauseFreezesAndResumeContinues", testPauseResume},
		{"StopKeepsFilesystem", testStopStart},
		{"MemoryLimitOOMKill", testOOM},
		{"PidsLimitHoldsForkBomb", testPids},
		{"Isolation", testIsolation},
		{"DiskLimitENOSPC", testDiskLimit},
		{"DeleteIsIdempotent", testDeleteIdempotent},
		{"RecoverAfterRestart", testRecover},
		{"KilledFromOutsideRecoversStopped", testKilledOutside},
		{"ConcurrentCreates", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// newID returns a unique sandbox ID, so that host-side leak checks can
// look for it by name.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "rt" + hex.EncodeToString(b)
}

// spec is a small sandbox running argv (or idling when argv is empty).
func (h Harness) spec(argv ...string) runtime.Spec {
	return runtime.Spec{ID: newID(), Image: h.Image, Entrypoint: argv, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
}

// create boots s on rt and registers its deletion (and a check that it
// left nothing behind) for the end of the test, whatever the outcome.
func create(t *testing.T, rt runtime.Runtime, s runtime.Spec) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := rt.Delete(ctx, s.ID); err != nil {
			t.Errorf("cleanup: delete %s: %v", s.ID, err)
		}
		AssertGone(t, s.ID)
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := rt.Create(ctx, s); err != nil {
		t.Fatalf("create %s: %v", s.ID, err)
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
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
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
