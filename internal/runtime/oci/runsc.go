package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/procscan"
)

// gVisor's runsc takes the same bundle as crun: the overlay root on the
// sandbox's disk, the network namespace the host made, the cgroups and the
// record all stay. Where it differs, the driver asks this file:
//
//   - Global flags: --network=sandbox runs gVisor's own network stack on
//     the namespace's veth (so the host's rules on that veth, the egress
//     policy, hold as for crun); --overlay2=none sends writes through to
//     the host overlay (so the disk limit, Stop and Archive see them; the
//     default would keep them in the sandbox's memory); --oci-seccomp
//     applies the spec's profile inside gVisor's kernel too; and
//     --host-uds=create lets init bind the agent's socket on a host
//     directory.
//   - The agent: runsc gives a sandbox only connected host sockets, not a
//     listener, so init binds the socket itself (initproc.AgentSocketFlag)
//     in a per-sandbox host directory mounted at runscAgentDir, and the
//     host dials it without following links (the sandbox owns that
//     directory's entries).
//   - Pause and resume go through runsc, which stops the tasks inside its
//     kernel; the cgroup freezer would stop the sentry under runsc's feet,
//     block its checkpoint and break systrap (see runscPause).
//   - DialPort asks runsc to connect to the sandbox's loopback, which is
//     gVisor's, not the namespace's.

// runscAgentDir is where the agent's socket directory appears inside a
// gVisor sandbox.
const runscAgentDir = "/.hutch/run"

func (d *Driver) runsc() bool { return d.cfg.Runtime == RuntimeRunsc }

// globalArgs are the flags that go before every subcommand of runtime rt,
// whose state lives under root.
func (d *Driver) globalArgs(rt, root string) []string {
	args := []string{"--root", root}
	if rt == RuntimeRunsc {
		args = append(args, "--platform="+d.cfg.RunscPlatform, "--network=sandbox", "--overlay2=none",
			"--host-uds=create", "--oci-seccomp")
	}
	return args
}

// runscCommand runs a runsc subcommand on sandbox id and returns its
// combined output.
func (d *Driver) runscCommand(ctx context.Context, args ...string) ([]byte, error) {
	full := append(d.globalArgs(RuntimeRunsc, d.runtimeRoot()), args...)
	out, err := d.reaper.combinedOutput(exec.CommandContext(ctx, d.binary, full...))
	if err != nil {
		return out, fmt.Errorf("runsc %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

func (p paths) runscAgentDir() string { return filepath.Join(p.dir, "run") }

// runscAgentSocket is the host path of a gVisor sandbox's agent socket.
func (p paths) runscAgentSocket() string { return filepath.Join(p.runscAgentDir(), "agent.sock") }

// prepareRunscAgent makes the sandbox's agent directory afresh, owned by
// the sandbox's root (as its writable layer is); the socket of a previous
// boot goes with it.
func (d *Driver) prepareRunscAgent(p paths) error {
	var st unix.Stat_t
	if err := unix.Stat(p.upper, &st); err != nil {
		return err
	}
	dir := p.runscAgentDir()
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return os.Chown(dir, int(st.Uid), int(st.Gid))
}

// runscHostTasks is what the host's pids cgroup allows a gVisor sandbox
// beyond its own limit: the sentry's threads, the gofer and systrap's
// stub processes are host tasks, and the sentry dies when it cannot make
// one. The sandbox's own limit is enforced inside gVisor (RLIMIT_NPROC).
const runscHostTasks = 512

// runscSpec adapts a crun spec for runsc.
func (d *Driver) runscSpec(p paths, spec *specs.Spec) {
	// The agent binds its own socket on the mounted agent directory.
	args := spec.Process.Args
	for i := 0; i+1 < len(args); i++ {
		if args[i] == initproc.AgentFDFlag {
			args[i], args[i+1] = initproc.AgentSocketFlag, runscAgentDir+"/agent.sock"
		}
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: runscAgentDir, Type: "bind", Source: p.runscAgentDir(),
		Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
	// runsc puts a tmpfs in its own memory over an empty /tmp unless the
	// spec mounts one: /tmp stays on the sandbox's disk, as with crun.
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/tmp", Type: "bind", Source: filepath.Join(p.rootfs, "tmp"),
		Options: []string{"bind", "rw", "nosuid", "nodev"}})
	// gVisor applies the spec's seccomp profile inside its kernel, but
	// answers every refusal with EPERM (it ignores errnoRet): clone3's
	// ENOSYS, which has glibc fall back to clone (whose flags the profile
	// checks), would become an EPERM that fails every pthread_create. So
	// clone3 is allowed here; a namespace it makes is one of gVisor's.
	if sc := spec.Linux.Seccomp; sc != nil {
		for i, r := range sc.Syscalls {
			if r.Action == specs.ActErrno && slices.Contains(r.Names, "clone3") {
				sc.Syscalls[i].Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return n == "clone3" })
			}
		}
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActAllow})
	}
	// The task limit moves inside gVisor, which counts every task of the
	// sandbox's users against RLIMIT_NPROC (nothing grants CAP_SYS_RESOURCE
	// or CAP_SYS_ADMIN to lift it); the host cgroup keeps a looser bound.
	if r := spec.Linux.Resources; r != nil && r.Pids != nil {
		n := uint64(r.Pids.Limit)
		spec.Process.Rlimits = append(spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NPROC", Hard: n, Soft: n})
		r.Pids.Limit += runscHostTasks
	}
}

// waitRunscAgent waits until init has bound the agent's socket, so that a
// call right after create finds it, as crun's pre-bound socket is found.
func (d *Driver) waitRunscAgent(ctx context.Context, p paths, pid int) error {
	for {
		c, err := dialRunscAgent(ctx, p)
		if err == nil {
			return c.Close()
		}
		if _, _, err := procStart(pid); err != nil {
			return fmt.Errorf("sandbox ended before its agent listened: %s", logTail(p.log, 0))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent socket: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// runscStats reads the CPU time and the task count of the sandbox's own
// tasks from gVisor's kernel. The host cgroup would count the sentry
// instead: its threads as tasks, and the CPU its runtime spends while the
// sandbox is paused.
func (d *Driver) runscStats(ctx context.Context, id string) (cpu time.Duration, pids int64, err error) {
	out, err := d.runscCommand(ctx, "events", "--stats", id)
	if err != nil {
		return 0, 0, err
	}
	var ev struct {
		Data struct {
			CPU struct {
				Usage struct {
					Total int64 `json:"total"`
				} `json:"usage"`
			} `json:"cpu"`
			Pids struct {
				Current int64 `json:"current"`
			} `json:"pids"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		return 0, 0, fmt.Errorf("runsc events %s: %w", id, err)
	}
	return time.Duration(ev.Data.CPU.Usage.Total), ev.Data.Pids.Current, nil
}

// dialRunscAgent connects to the socket init bound, refusing anything
// else the sandbox may have put at its name (a link to another socket of
// the host, which connect would follow).
func dialRunscAgent(ctx context.Context, p paths) (net.Conn, error) {
	fd, err := unix.Open(p.runscAgentSocket(), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("%s is not a socket: %w", p.runscAgentSocket(), errdefs.ErrUnavailable)
	}
	var dialer net.Dialer
	return dialer.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d", fd))
}

// runscPause pauses or resumes the sandbox with runsc alone, which stops
// the tasks inside gVisor's kernel. Its cgroup is never frozen: the host
// freezer interrupts systrap's syscall threads where they wait for the
// sentry in a seccomp user notification, the kernel drops that
// notification, and the sentry's next receive fails with ENOENT, which
// gVisor takes for a dead stub: it kills the stub and the sandbox dies
// with it, at some resume after the thaw.
//
// A runsc-paused sentry still spends some host CPU of its own (measured
// here: about 35 ms a second on systrap), which runsc counts as the
// sandbox's: the pause keeps the sandbox's CPU time as it was when its
// tasks stopped, for Stats to report until the resume.
func (d *Driver) runscPause(ctx context.Context, id, state string) error {
	paused, err := d.runscPaused(ctx, id)
	if err != nil {
		return err
	}
	p := d.paths(id)
	switch {
	case state == "FROZEN" && !paused:
		if _, err := d.runscCommand(ctx, "pause", id); err != nil {
			return err
		}
		if cpu, _, err := d.runscStats(ctx, id); err == nil {
			_ = os.WriteFile(p.runscPausedCPU(), []byte(strconv.FormatInt(int64(cpu), 10)), 0o600)
		}
	case state == "THAWED" && paused:
		_ = os.Remove(p.runscPausedCPU())
		_, err = d.runscCommand(ctx, "resume", id)
	}
	return err
}

func (p paths) runscPausedCPU() string { return filepath.Join(p.dir, "runsc-paused-cpu") }

// runscUsage is runscStats, with the CPU time kept at the pause while the
// sandbox is paused.
func (d *Driver) runscUsage(ctx context.Context, id string) (cpu time.Duration, pids int64, err error) {
	cpu, pids, err = d.runscStats(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	if b, rerr := os.ReadFile(d.paths(id).runscPausedCPU()); rerr == nil {
		if ns, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); perr == nil {
			cpu = time.Duration(ns)
		}
	}
	return cpu, pids, nil
}

// thawRunscFreezer thaws the cgroup of a gVisor sandbox that an earlier
// version of the driver paused with the freezer as well as runsc (see
// runscPause): runsc cannot reach a frozen sentry. It stays paused by
// runsc, as it was.
func (d *Driver) thawRunscFreezer(id string) {
	if d.cg.frozen(id) {
		if err := d.cg.setFreezer(id, "THAWED"); err != nil {
			d.log.Warn("thaw a frozen gVisor sandbox", "id", id, "err", err)
		}
	}
}

// runscPaused asks runsc whether the sandbox is paused.
func (d *Driver) runscPaused(ctx context.Context, id string) (bool, error) {
	out, err := d.runscCommand(ctx, "state", id)
	if err != nil {
		return false, err
	}
	var st specs.State
	if err := json.Unmarshal(out, &st); err != nil {
		return false, fmt.Errorf("runsc state %s: %w", id, err)
	}
	return st.Status == "paused", nil
}

// paused reports whether a running sandbox is paused, as its runtime has it.
func (d *Driver) paused(ctx context.Context, id string) bool {
	if !d.runsc() {
		return d.cg.frozen(id)
	}
	p, err := d.runscPaused(ctx, id)
	return err == nil && p
}

// signalTerm asks the sandbox's processes to end. Under gVisor they are
// not host processes: the signal goes to its init through runsc, after a
// resume (a paused task does not act on it).
func (d *Driver) signalTerm(id string) {
	if !d.runsc() {
		d.cg.signalAll(id, unix.SIGTERM)
		return
	}
	ctx := context.Background()
	_ = d.runscPause(ctx, id, "THAWED")
	if _, err := d.runscCommand(ctx, "kill", id, "TERM"); err != nil {
		d.log.Debug("runsc kill", "id", id, "err", err)
	}
}

// dialRunscPort connects to port on the sandbox's own loopback through
// `runsc port-forward --stream`, which hands gVisor one end of a
// connection to a socket of ours and has it connect there.
func (d *Driver) dialRunscPort(ctx context.Context, id string, port int) (net.Conn, error) {
	if _, err := d.load(id); err != nil {
		return nil, err
	}
	// runsc connects by name, so the name must fit a sockaddr as it is.
	dir, err := os.MkdirTemp("", "hutch-port-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	addr := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	if _, err := d.runscCommand(ctx, "port-forward", "--stream", addr, id, strconv.Itoa(port)); err != nil {
		return nil, fmt.Errorf("dial port %d of %s: %w", port, id, errors.Join(err, errdefs.ErrUnavailable))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ln.SetDeadline(dl)
	}
	return ln.Accept()
}

// killRunscStrays kills the runsc processes (sentry, gofer) of container
// id under root that are still alive: a `runsc run` that died half-way
// can leave them outside the sandbox's cgroup, where terminate does not
// look. They name their root and, last, the container.
func killRunscStrays(root, id string) {
	strays, _ := procscan.Find(func(argv []string) bool {
		name := filepath.Base(argv[0])
		return len(argv) >= 3 && argv[len(argv)-1] == id && slices.Contains(argv, "--root="+root) &&
			(name == "runsc-sandbox" || name == "runsc-gofer")
	})
	for _, p := range strays {
		_ = unix.Kill(p.PID, unix.SIGKILL)
	}
}
