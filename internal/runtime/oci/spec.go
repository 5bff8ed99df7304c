package oci

import (
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/runtime"
)

// initPath is where the init binary appears inside every sandbox.
const initPath = "/.hutch/hutch"

// hostnameLen is how much of the sandbox ID becomes its hostname.
const hostnameLen = 12

// defaultCaps is the usual container default set: enough for package
// managers and servers, nothing that reaches the host (no SYS_ADMIN,
// SYS_PTRACE, SYS_MODULE, NET_ADMIN...).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// maskedPaths and readonlyPaths are the OCI defaults: kernel information
// a sandbox has no business reading, and knobs it must not turn.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// limits are a Spec's resources with the defaults filled in.
type limits struct {
	cpu      float64
	memoryMB int64
	pids     int64
}

func specLimits(s runtime.Spec) limits {
	l := limits{cpu: s.CPU, memoryMB: s.MemoryMB, pids: s.Pids}
	if l.cpu <= 0 {
		l.cpu = DefaultCPU
	}
	if l.memoryMB <= 0 {
		l.memoryMB = DefaultMemoryMB
	}
	if l.pids <= 0 {
		l.pids = DefaultPids
	}
	return l
}

// writeSpec writes the bundle's config.json for sandbox s over rec's image.
func (d *Driver) writeSpec(p paths, s runtime.Spec, rec *record) error {
	spec := d.buildSpec(p, s, rec)
	d.netSpec(p, rec, spec)
	if d.runsc() {
		d.runscSpec(p, spec)
	}
	d.useCompiledSeccomp(spec)
	if err := prepareConsole(p, spec); err != nil {
		return err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(p.config, b, 0o600)
}

func (d *Driver) buildSpec(p paths, s runtime.Spec, rec *record) *specs.Spec {
	l := specLimits(s)
	args := initArgs(entrypoint(s, rec), d.cfg.ConsoleBytes)
	if rec.Pool != nil {
		args = preparedInitArgs(d.cfg.ConsoleBytes)
	}
	cwd := workingDir(rec)
	hostname := hostnameOf(s.ID)
	quota := int64(l.cpu * 100000)
	period := uint64(100000)
	mem := l.memoryMB << 20
	noSwap := mem
	idmap := []specs.LinuxIDMapping{d.idsOf(rec).mapping()}
	ro := []string{"nosuid", "noexec", "nodev", "ro"}
	return &specs.Spec{
		Version: "1.0.2",
		Root:    &specs.Root{Path: p.rootfs},
		Process: &specs.Process{
			User:            specs.User{UID: 0, GID: 0},
			Args:            args,
			Env:             buildEnv(rec.Config.Env, s.Env),
			Cwd:             cwd,
			NoNewPrivileges: false, // as Docker: images' setuid files work inside (docs/security.md)
			OOMScoreAdj:     initOOMScoreAdj(),
			Capabilities: &specs.LinuxCapabilities{
				Bounding: defaultCaps, Effective: defaultCaps, Permitted: defaultCaps,
			},
		},
		Hostname: hostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: ro},
			{Destination: initPath, Type: "bind", Source: d.cfg.InitBinary, Options: []string{"bind", "ro", "nosuid", "nodev"}},
			{Destination: consolePath, Type: "bind", Source: p.console(), Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}},
		},
		Linux: &specs.Linux{
			UIDMappings: idmap,
			GIDMappings: idmap,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.IPCNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.UserNamespace},
				{Type: specs.CgroupNamespace},
			},
			CgroupsPath: "/" + cgroupParent + "/" + rec.key(),
			Resources: &specs.LinuxResources{
				CPU:     &specs.LinuxCPU{Quota: &quota, Period: &period},
				Memory:  &specs.LinuxMemory{Limit: &mem, Swap: &noSwap},
				Pids:    &specs.LinuxPids{Limit: l.pids},
				Devices: allowedDevices,
			},
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
			Seccomp:       seccompProfile(),
		},
	}
}

// entrypoint is what sandbox s runs. Without an entrypoint of its own, a
// sandbox runs its image's command only when the image declares an
// ENTRYPOINT (a service: nginx, postgres). A bare CMD is an interactive
// default (/bin/sh, bash, python3) that would exit at once without a
// terminal, so the sandbox idles instead, its agent ready for exec.
func entrypoint(s runtime.Spec, rec *record) []string {
	entry := s.Entrypoint
	if len(entry) == 0 && len(rec.Config.Entrypoint) > 0 {
		entry = append(append([]string{}, rec.Config.Entrypoint...), rec.Config.Cmd...)
	}
	return entry
}

// workingDir is where the sandbox's init, agent and workload start.
func workingDir(rec *record) string {
	if rec.Config.WorkingDir == "" {
		return "/"
	}
	return rec.Config.WorkingDir
}

// hostnameOf is the hostname of sandbox id.
func hostnameOf(id string) string {
	if len(id) > hostnameLen {
		return id[:hostnameLen]
	}
	return id
}

// buildEnv merges the image's environment with the sandbox's, the sandbox
// winning, in a stable order.
func buildEnv(imageEnv []string, env map[string]string) []string {
	m := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, kv := range imageEnv {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for k, v := range env {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// sandboxOOMScoreAdj is the OOM killer adjustment of the user's
// processes in a sandbox: the server's own when it is zero or more, else
// zero, so that a server an operator shielded from the OOM killer
// (systemd's OOMScoreAdjust=-900) does not pass its shield on to the
// workloads.
func sandboxOOMScoreAdj() int {
	adj := 0
	if b, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			adj = v
		}
	}
	return adj
}

// initOOMScoreAdj is the adjustment of a sandbox's init and agent:
// initproc.UserOOMScoreBonus below the user's processes, so that the OOM
// killer takes those first. Going below the server's own value takes
// CAP_SYS_RESOURCE in the host's user namespace, which the runtime loses
// once it enters the sandbox's: runDetached starts the runtime at this
// value (choom) when the server holds that capability, and the runtime's
// own write then only confirms it. Without it init keeps the user's
// value, and init and the agent raise what they start above it
// (initproc.Ranked) instead.
func initOOMScoreAdj() *int {
	adj := sandboxOOMScoreAdj()
	if _, ok := oomLowerer(); ok {
		adj = max(adj-initproc.UserOOMScoreBonus, -1000)
	}
	return &adj
}

// oomLowerer returns the choom binary when this process may lower an OOM
// score (CAP_SYS_RESOURCE is effective) and choom (util-linux) is there.
func oomLowerer() (string, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil || caps&(1<<unix.CAP_SYS_RESOURCE) == 0 {
				return "", false
			}
			choom, err := exec.LookPath("choom")
			return choom, err == nil
		}
	}
	return "", false
}

// atOOMScore makes cmd start at adj when that is below what it would
// inherit (see initOOMScoreAdj).
func atOOMScore(cmd *exec.Cmd, adj int) {
	choom, ok := oomLowerer()
	if !ok || adj >= 0 {
		return
	}
	cmd.Args = append([]string{choom, "-n", strconv.Itoa(adj), "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = choom
}

// allowedDevices is the device cgroup: nothing but the standard set a
// container gets (null, zero, full, random, urandom, tty, console, ptmx
// and the pseudo-terminals), so that a device node that reaches the
// sandbox another way (an image layer, a bind mount) opens nothing.
var allowedDevices = func() []specs.LinuxDeviceCgroup {
	dev := func(major, minor int64) specs.LinuxDeviceCgroup {
		d := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Access: "rwm"}
		if minor >= 0 {
			d.Minor = &minor
		}
		return d
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		dev(1, 3), dev(1, 5), dev(1, 7), dev(1, 8), dev(1, 9), // null zero full random urandom
		dev(5, 0), dev(5, 1), dev(5, 2), // tty console ptmx
		dev(136, -1), // pts
	}
}()
