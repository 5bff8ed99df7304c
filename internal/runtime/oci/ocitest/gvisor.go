package ocitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/runtimetest"
)

// GvisorProbe is runtimetest.Probe for the oci driver on runsc (gVisor).
// Its sandboxes' host processes (the sentry, the gofer, systrap's stubs)
// live in cgroups named by the sandbox like crun's, so Leftovers, Alive
// and Kill are Probe's; what runs inside is gVisor's, so the files are
// read from the host side of the root the gofer serves, and whether it
// is paused is asked of runsc (its pause stops the tasks inside its own
// kernel; no host freezer is involved).
type GvisorProbe struct {
	Probe
	// Runsc is the runsc binary; StateDir the driver's state directory.
	Runsc    string
	StateDir string
}

var _ runtimetest.Probe = GvisorProbe{}

// ReadFile implements runtimetest.Probe through the host mount of the
// sandbox's root (runsc runs with --overlay2=none, so its writes land
// there).
func (g GvisorProbe) ReadFile(_ context.Context, _ runtime.Runtime, id, path string) ([]byte, error) {
	root := filepath.Join(g.StateDir, "sandboxes", id, "rootfs")
	return os.ReadFile(filepath.Join(root, filepath.Clean("/"+path)))
}

// Frozen implements runtimetest.Probe from `runsc state`.
func (g GvisorProbe) Frozen(ctx context.Context, _ runtime.Runtime, id string) (bool, error) {
	out, err := exec.CommandContext(ctx, g.Runsc, "--root", filepath.Join(g.StateDir, "runsc"), "state", id).Output()
	if err != nil {
		return false, fmt.Errorf("runsc state %s: %w", id, err)
	}
	var st struct{ Status string }
	if err := json.Unmarshal(out, &st); err != nil {
		return false, err
	}
	return st.Status == "paused", nil
}
