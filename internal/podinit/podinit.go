// Package podinit is `hutch kube`, what runs inside a sandbox's pod
// before the sandbox's own init (see the kube driver):
//
//   - install DEST, in the first init container (the agent image): copies
//     the hutch binary to DEST, on the claim beside the root (BinSubPath),
//     which the other containers mount read-only at /.hutch, so that the
//     user's image stays as it is;
//   - seed CLAIM [--uid-base N], in the second init container (the
//     user's image): copies the image's root filesystem onto the claim
//     once, owners shifted by N, so that everything the sandbox writes
//     anywhere persists across a stop and a start;
//   - boot CLAIM [--pids N] [--agent-port P] [--control-port C]
//     [--uid-base N] [--held] -- ARGV, in the main container: makes the claim's
//     copy the root (moved over /, with the container's /proc, /dev and
//     /sys bound in), sets the pids limit, binds the agent's TCP port,
//     makes the child freezer cgroup init is started in and serves
//     freeze, thaw and state on port C (control.go), drops CAP_SYS_ADMIN (which it
//     needed for that) from the bounding set, and runs `hutch kube enter
//     init ...` in a new user namespace (root inside is uid N outside)
//     and cgroup namespace, staying PID 1 of the container to pass
//     signals on and reap; with --held (a prepared sandbox of a warm
//     pool) it waits before dropping the capability until the control
//     port brings the workload (take.go);
//   - enter ARGS, the first program in those namespaces: installs a
//     seccomp filter refusing new namespaces (and the mount API, BPF,
//     perf events, keyrings), cuts the capabilities to boot's bounding
//     set and executes `hutch ARGS` (init, with the agent).
//
// It depends on nothing of client-go: it is linked into every binary that
// runs as a sandbox's init.
package podinit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// Mount points inside the pod's containers.
const (
	// BinDir holds the hutch binary (BinDir/hutch): the claim's
	// BinSubPath, read-only.
	BinDir     = "/.hutch"
	BinSubPath = "bin"
	// ClaimDir is where the sandbox's claim is mounted; the root
	// filesystem is ClaimDir/root.
	ClaimDir = "/.hutch-claim"
)

// SeededMarker, beside root on the claim, says the copy is whole (the
// kube runtime writes it too, after an import from the archive store).
const SeededMarker = ".seeded"

// Main runs `hutch kube ARGS` and returns its exit status.
func Main(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: hutch kube install DEST | seed CLAIM [--uid-base N] | boot CLAIM [--pids N] [--agent-port P] [--control-port C] [--uid-base N] [--held] -- ARGV | enter INIT-ARGS")
		return 2
	}
	var err error
	switch args[0] {
	case "install":
		if len(args) != 2 {
			return Main(nil)
		}
		err = install(args[1])
	case "seed":
		base := 0
		if len(args) == 4 && args[2] == "--uid-base" {
			base, err = strconv.Atoi(args[3])
		} else if len(args) != 2 {
			return Main(nil)
		}
		if err == nil {
			err = seed(args[1], base)
		}
	case "boot":
		var status int
		if status, err = boot(args[1:]); err == nil {
			return status
		}
	case "enter":
		err = enter(args[1:]) // returns only on failure
	default:
		return Main(nil)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch kube %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// install copies the running binary to dest, read-only and executable.
func install(dest string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	tmp := dest + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o555)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}
