package podinit

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/agent/protocol"
)

// BootCapabilities are what the main container is given beyond the
// runtime's defaults, only for boot's own work: the mounts, the root move,
// the cgroup namespace and the pids limit (SYS_ADMIN). Boot drops it
// before the sandbox's init runs.
//
// The OOM killer's order (the user's processes before init and the
// agent) comes from init and the agent raising what they start by
// initproc.UserOOMScoreBonus above the score the kubelet gives the
// container: lowering init's own would take CAP_SYS_RESOURCE, which a
// node's runtime may not be able to grant (this machine's cannot).
var BootCapabilities = []string{"SYS_ADMIN"}

var bootCaps = []uintptr{unix.CAP_SYS_ADMIN}

// IDMapSize is how many uids (and gids) a sandbox's user namespace maps,
// from its base up.
const IDMapSize = 65536

// boot turns the container into the sandbox and runs init in a user
// namespace of its own (root inside is the uid base outside), staying as
// the container's PID 1 to pass signals on and reap; it returns init's
// exit status, or an error before init started.
func boot(args []string) (int, error) {
	if len(args) == 0 {
		return 0, errors.New("no claim directory")
	}
	claim := args[0]
	fs := flag.NewFlagSet("boot", flag.ContinueOnError)
	pids := fs.Int64("pids", 0, "pids limit of the sandbox (0: the pod's)")
	port := fs.Int("agent-port", 0, "TCP port the agent listens on (0: no agent)")
	control := fs.Int("control-port", 0, "TCP port of boot's freeze control (0: none)")
	base := fs.Int("uid-base", 0, "host uid and gid of the sandbox's root (0: no user namespace)")
	held := fs.Bool("held", false, "wait for the take on the control port before starting init (a prepared sandbox of a warm pool)")
	if err := fs.Parse(args[1:]); err != nil {
		return 0, err
	}
	argv := fs.Args()

	// The token in this process's environment is the agent's (and the
	// control port's), the freezer's files are open in it.
	err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return 0, err
	}
	if *pids > 0 {
		if err := setPids(*pids); err != nil {
			return 0, fmt.Errorf("pids limit: %w", err)
		}
	}
	initArgs := []string{"init"}
	var files []*os.File
	if *port > 0 {
		ln, err := listenAgent(*port)
		if err != nil {
			return 0, err
		}
		files = append(files, ln)
		initArgs = append(initArgs, "--agent-fd", "3")
	}
	// The freezer hierarchy is mounted (and let go) in the image's root,
	// before the claim's replaces it.
	var fz *freezer
	var h *holder
	if *held {
		if *control == 0 {
			return 0, errors.New("a held boot needs a control port")
		}
		h = newHolder()
	}
	if *control > 0 {
		token := os.Getenv(protocol.TokenEnv)
		if token == "" {
			return 0, errors.New("a control port needs the pod's token")
		}
		if fz, err = openFreezer(); err != nil {
			return 0, err
		}
		ln, err := listenControl(*control)
		if err != nil {
			return 0, err
		}
		go serveControl(ln, token, fz, h)
	}
	if err := makeRoot(filepath.Join(claim, "root")); err != nil {
		return 0, err
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD)
	env, started := os.Environ(), func(error) {}
	if h != nil {
		t, status, ok := h.wait(sigs)
		if !ok {
			return status, nil // deleted before it was taken
		}
		if err := t.req.apply(); err != nil {
			t.done <- err
			return 0, err
		}
		argv, env = t.req.Args, t.req.env()
		started = func(err error) { t.done <- err }
	}
	if err := dropCapabilities(); err != nil {
		started(err)
		return 0, err
	}
	// init runs through `hutch kube enter`, which installs the seccomp
	// filter from inside the new namespaces (it forbids making them).
	cmd := exec.Command(BinDir+"/hutch", append(append([]string{"kube", "enter"}, initArgs...), append([]string{"--"}, argv...)...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = env
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWCGROUP}
	if *base > 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: *base, Size: IDMapSize}}
		cmd.SysProcAttr.UidMappings, cmd.SysProcAttr.GidMappings = m, m
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Become the namespace's root (host uid base): boot's own uid, the
		// host's root, is not mapped in it.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	return supervise(cmd, fz, sigs, started)
}

// supervise starts cmd (in fz's cgroup, when there is one), says how
// that went to started, passes the termination signals sigs brings on to
// it and reaps every process that ends (boot is the container's PID 1),
// until cmd ends; it returns cmd's exit status. A termination signal
// thaws fz first: frozen processes cannot end, and the pod's deletion
// would wait for them.
func supervise(cmd *exec.Cmd, fz *freezer, sigs chan os.Signal, started func(error)) (int, error) {
	start := cmd.Start
	if fz != nil {
		start = func() error { return fz.start(cmd.Start) }
	}
	err := start()
	started(err)
	if err != nil {
		return 0, fmt.Errorf("start init: %w", err)
	}
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			if fz != nil {
				_, _ = fz.set(false)
			}
			_ = syscall.Kill(child, sig.(syscall.Signal))
			continue
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			if pid == child {
				if ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return ws.ExitStatus(), nil
			}
		}
	}
	return 0, nil // not reached
}

// enter is init's first step inside the sandbox's namespaces: the seccomp
// filter, the capabilities cut to boot's bounding set (a new user
// namespace starts with every capability in it, which would let the
// sandbox's root trace init and the agent), then init itself.
func enter(args []string) error {
	goruntime.LockOSThread() // the filter and the set are the thread's, which executes init
	if err := installSeccomp(); err != nil {
		// Without a user namespace of its own (no --uid-base) enter has
		// no CAP_SYS_ADMIN left: the filter then takes no_new_privs.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
		if err := installSeccomp(); err != nil {
			return fmt.Errorf("seccomp: %w", err)
		}
	}
	keep, err := bootBounding()
	if err != nil {
		return err
	}
	for c := uintptr(0); c <= uintptr(unix.CAP_LAST_CAP); c++ {
		if keep&(1<<c) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && err != unix.EINVAL {
				return fmt.Errorf("drop capability %d: %w", c, err)
			}
		}
	}
	exe := BinDir + "/hutch"
	return syscall.Exec(exe, append([]string{exe}, args...), os.Environ())
}

// bootBounding is the bounding set of boot, the pod's PID 1: the
// container runtime's default set without what boot dropped.
func bootBounding() (uint64, error) {
	b, err := os.ReadFile("/proc/1/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapBnd in /proc/1/status")
}

// setPids writes the container's pids.max, through its cgroup mount made
// writable for the moment (the container runtime mounts it read-only).
func setPids(n int64) error {
	var errs []error
	for _, dir := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(dir, "pids.max")); err != nil {
			continue
		}
		const flags = unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		if err := unix.Mount("", dir, "", unix.MS_REMOUNT|flags, ""); err != nil {
			errs = append(errs, fmt.Errorf("remount %s writable: %w", dir, err))
			continue
		}
		werr := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.FormatInt(n, 10)), 0o644)
		rerr := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, "")
		if werr == nil && rerr == nil {
			return nil
		}
		errs = append(errs, werr, rerr)
	}
	if len(errs) == 0 {
		return errors.New("no pids controller in the container")
	}
	return errors.Join(errs...)
}

// listenAgent binds the agent's TCP port on every address of the pod and
// returns the listening socket, to be inherited by init.
func listenAgent(port int) (*os.File, error) {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("agent port: %w", err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// makeRoot makes root (the claim's copy of the image) the container's
// root: the container's /proc, /dev and /sys (with the masks and
// read-only parts the container runtime gave them), the files the kubelet
// binds (/etc/hosts, /etc/hostname, /etc/resolv.conf) and the hutch
// binary (read-only) are bound in, then it is moved over the image's
// root.
func makeRoot(root string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private mounts: %w", err)
	}
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind root: %w", err)
	}
	for _, d := range []string{"/proc", "/dev", "/sys"} {
		if err := bindDir(d, root, false); err != nil {
			return err
		}
	}
	if err := bindDir(BinDir, root, true); err != nil {
		return err
	}
	for _, f := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if err := bindFile(f, root); err != nil {
			return err
		}
	}
	if err := unix.Chdir(root); err != nil {
		return err
	}
	// pivot_root is refused by the runtime's default seccomp profile even
	// with CAP_SYS_ADMIN, so the new root is moved over the old one (as
	// runc does without pivot_root): the image's root and the claim's
	// mount point stay below it, out of any path's reach.
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move the root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// ownDir makes root/name (one component below root) a real directory:
// the claim holds the user's files, and a symlink there must not carry a
// mount elsewhere.
func ownDir(root, name string) (string, error) {
	p := filepath.Join(root, name)
	fi, err := os.Lstat(p)
	if err == nil && !fi.IsDir() {
		if err := os.RemoveAll(p); err != nil {
			return "", err
		}
	}
	if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
		return "", err
	}
	return p, nil
}

func bindDir(src, root string, readOnly bool) error {
	dst, err := ownDir(root, strings.TrimPrefix(src, "/"))
	if err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	if readOnly {
		if err := unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", src, err)
		}
	}
	return nil
}

// bindFile binds the container's /etc/NAME over root's, when the
// container has one.
func bindFile(src, root string) error {
	if _, err := os.Stat(src); err != nil {
		return nil
	}
	dir, err := ownDir(root, "etc")
	if err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if fi, err := os.Lstat(dst); err == nil && !fi.Mode().IsRegular() {
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return nil
}

// dropCapabilities takes boot's own capabilities out of the bounding set,
// so that no program executed after can have them (in the sandbox's user
// namespace either: its init gets what the bounding set allows), and
// clears the inheritable and ambient sets.
func dropCapabilities() error {
	for _, c := range bootCaps {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	for i := range data {
		data[i].Inheritable = 0
	}
	for _, c := range bootCaps {
		data[c/32].Effective &^= 1 << (c % 32)
		data[c/32].Permitted &^= 1 << (c % 32)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
