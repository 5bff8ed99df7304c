// Package ocitest looks at the oci driver's sandboxes from the host: the
// mounts, cgroups, processes, loop devices, interfaces and firewall rules
// a sandbox makes, and its processes through /proc. Probe is the driver's
// runtimetest.Probe; Leftovers and AssertGone serve the driver's own tests
// and the end-to-end tests, which check the same host after a real server.
//
// It does not import the oci package, so that the driver's internal tests
// can use it; a runtime given to Probe needs an InitPID method.
package ocitest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/runtimetest"
)

// Probe is runtimetest.Probe for drivers whose sandboxes are host
// processes in cgroups of their own, named by the sandbox id.
type Probe struct{}

var _ runtimetest.Probe = Probe{}

// Leftovers implements runtimetest.Probe.
func (Probe) Leftovers(ctx context.Context, _ runtime.Runtime, id string) ([]string, error) {
	return scan(ctx, id)
}

// ReadFile implements runtimetest.Probe through /proc/<init>/root, which
// a frozen sandbox does not have to serve.
func (Probe) ReadFile(_ context.Context, rt runtime.Runtime, id, path string) ([]byte, error) {
	pid, err := initPID(rt, id)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(fmt.Sprintf("/proc/%d/root/%s", pid, strings.TrimPrefix(path, "/")))
}

// Alive implements runtimetest.Probe: a process of any cgroup named by
// the sandbox that is not a zombie.
func (Probe) Alive(_ context.Context, rt runtime.Runtime, id string) (bool, error) {
	return len(livePIDs(hostName(rt, id))) > 0, nil
}

// Frozen implements runtimetest.Probe from the freezer state of every
// live process's own cgroup.
func (Probe) Frozen(_ context.Context, rt runtime.Runtime, id string) (bool, error) {
	pids := livePIDs(hostName(rt, id))
	if len(pids) == 0 {
		return false, fmt.Errorf("sandbox %s has no process", id)
	}
	for _, pid := range pids {
		frozen, err := pidFrozen(pid)
		if err != nil || !frozen {
			return false, err
		}
	}
	return true, nil
}

// Kill implements runtimetest.Probe with a SIGKILL to the sandbox's init.
func (Probe) Kill(_ context.Context, rt runtime.Runtime, id string) error {
	pid, err := initPID(rt, id)
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// HostUID implements runtimetest.Probe from the init's /proc status.
func (Probe) HostUID(_ context.Context, rt runtime.Runtime, id string) (int, error) {
	pid, err := initPID(rt, id)
	if err != nil {
		return 0, err
	}
	uids, err := procStatus(pid, "Uid")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(uids)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty Uid in status of %d", pid)
	}
	return strconv.Atoi(f[0])
}

// Leftovers lists what is left on the host of sandbox id, empty when
// nothing is; a failure to look is listed too, so that a caller waiting
// for an empty list does not take blindness for a clean host.
func Leftovers(id string) []string {
	out, err := scan(context.Background(), id)
	if err != nil {
		out = append(out, "probe failed: "+err.Error())
	}
	return out
}

// AssertGone fails t for everything Leftovers finds of sandbox id.
func AssertGone(t testing.TB, id string) {
	t.Helper()
	for _, leak := range Leftovers(id) {
		t.Errorf("sandbox %s left behind: %s", id, leak)
	}
}

// initPID asks the driver for the host pid of the sandbox's init.
// hostName is the name sandbox id's cgroups bear on the host: its id, or
// for a sandbox taken from a warm pool, the prepared sandbox's, read from
// the cgroup of its running init.
func hostName(rt runtime.Runtime, id string) string {
	pid, err := initPID(rt, id)
	if err != nil {
		return id
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return id
	}
	for _, line := range strings.Split(string(b), "\n") {
		if _, rest, ok := strings.Cut(line, "/hutch/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			return name
		}
	}
	return id
}

func initPID(rt runtime.Runtime, id string) (int, error) {
	d, ok := rt.(interface{ InitPID(id string) (int, error) })
	if !ok {
		return 0, errors.New("ocitest: driver " + rt.Name() + " has no InitPID")
	}
	return d.InitPID(id)
}
