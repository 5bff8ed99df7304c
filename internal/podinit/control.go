package podinit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/agent/protocol"
)

// Pausing a sandbox from anywhere: boot moves init (and so everything the
// sandbox will ever run) into a child cgroup of the container's freezer
// hierarchy, which it mounts privately before dropping CAP_SYS_ADMIN and
// keeps only as open files; boot itself stays in the container's cgroup,
// unfrozen, and answers freeze, thaw, state and stats on the control port for
// whoever presents the pod's token. The sandbox cannot thaw itself: the
// files are open in boot only (not dumpable, beyond the sandbox's user
// namespace), the hierarchy's mount is gone from every path, and the
// sandbox's own /sys/fs/cgroup is read-only and owned by the host's root.

// Control commands and answers, one line each.
const (
	ControlFreeze = "freeze"
	ControlThaw   = "thaw"
	ControlState  = "state"
	ControlStats  = "stats" // answered by a line of counters, see stats
	StateFrozen   = "FROZEN"
	StateThawed   = "THAWED"
)

// FreezeChild names the child cgroup that holds the sandbox, in the
// container's freezer and cpuacct hierarchies.
const FreezeChild = "sandbox"

// freezer is the sandbox's child cgroup, as open files.
type freezer struct {
	mu     sync.Mutex
	v2     bool
	state  *os.File // freezer.state (v1) or cgroup.freeze (v2)
	events *os.File // cgroup.events (v2)
	cpu    *os.File // cpuacct.usage (v1) or cpu.stat (v2) of the child
	// The children's and the container's cgroup.procs, one per hierarchy.
	child, parent []*os.File
}

// openFreezer mounts the container's freezer and cpuacct hierarchies
// (cgroup v1; the unified hierarchy where v1 has no freezer) each at a
// fresh directory, makes the sandbox's child cgroup in each, opens what
// boot needs and detaches the mounts again. The cpuacct child is for
// Stats: a paused sandbox uses no CPU, while boot still answers. It
// needs CAP_SYS_ADMIN.
func openFreezer() (f *freezer, err error) {
	lines, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	f = &freezer{}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	open := func(path string, flag int) *os.File {
		if err != nil {
			return nil
		}
		var x *os.File
		x, err = os.OpenFile(path, flag|unix.O_CLOEXEC, 0)
		return x
	}
	freezerLine, cpuLine, unified := "", "", ""
	for ctrls, path := range lines {
		for _, c := range strings.Split(ctrls, ",") {
			switch c {
			case "freezer":
				freezerLine = ctrls
			case "cpuacct":
				cpuLine = ctrls
			}
		}
		if ctrls == "" {
			unified = path
		}
	}
	if freezerLine == "" {
		if unified == "" {
			return nil, errors.New("no freezer cgroup")
		}
		f.v2 = true
		err = inHierarchy("cgroup2", "", unified, func(parent, child string) {
			f.state = open(filepath.Join(child, "cgroup.freeze"), os.O_RDWR)
			f.events = open(filepath.Join(child, "cgroup.events"), os.O_RDONLY)
			f.cpu = open(filepath.Join(child, "cpu.stat"), os.O_RDONLY)
			f.child = append(f.child, open(filepath.Join(child, "cgroup.procs"), os.O_WRONLY))
			f.parent = append(f.parent, open(filepath.Join(parent, "cgroup.procs"), os.O_WRONLY))
		})
		return f, err
	}
	err = inHierarchy("cgroup", freezerLine, lines[freezerLine], func(parent, child string) {
		f.state = open(filepath.Join(child, "freezer.state"), os.O_RDWR)
		f.child = append(f.child, open(filepath.Join(child, "cgroup.procs"), os.O_WRONLY))
		f.parent = append(f.parent, open(filepath.Join(parent, "cgroup.procs"), os.O_WRONLY))
	})
	if err == nil && cpuLine != "" {
		err = inHierarchy("cgroup", cpuLine, lines[cpuLine], func(parent, child string) {
			f.cpu = open(filepath.Join(child, "cpuacct.usage"), os.O_RDONLY)
			f.child = append(f.child, open(filepath.Join(child, "cgroup.procs"), os.O_WRONLY))
			f.parent = append(f.parent, open(filepath.Join(parent, "cgroup.procs"), os.O_WRONLY))
		})
	}
	return f, err
}

// inHierarchy mounts the cgroup hierarchy of the controllers ctrls at a
// fresh directory, makes the child of own (boot's cgroup in it), calls
// use with the two directories and detaches the mount: the files use
// opened keep the hierarchy, and no path leads to it any more.
func inHierarchy(fstype, ctrls, own string, use func(parent, child string)) error {
	mnt, err := os.MkdirTemp("/", ".hutch-cgroup-")
	if err != nil {
		return err
	}
	defer os.Remove(mnt)
	if err := unix.Mount("cgroup", mnt, fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ctrls); err != nil {
		return fmt.Errorf("mount the %s hierarchy: %w", fstype+" "+ctrls, err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	parent := filepath.Join(mnt, own)
	child := filepath.Join(parent, FreezeChild)
	if err := os.Mkdir(child, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("child cgroup: %w", err)
	}
	use(parent, child)
	return nil
}

// ownCgroups maps each of boot's cgroup hierarchies (its controllers as
// /proc/self/cgroup names them, "" for the unified one) to boot's cgroup
// in it.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
			m[parts[1]] = parts[2]
		}
	}
	return m, nil
}

func (f *freezer) close() {
	for _, x := range append([]*os.File{f.state, f.events, f.cpu}, append(f.child, f.parent...)...) {
		if x != nil {
			x.Close()
		}
	}
}

// start starts cmd inside the child cgroup: boot moves itself in, so
// that cmd is born there (and into a cgroup namespace rooted there), and
// back out.
func (f *freezer) start(start func() error) error {
	self := []byte(strconv.Itoa(os.Getpid()))
	for _, c := range f.child {
		if _, err := c.Write(self); err != nil {
			return fmt.Errorf("enter the sandbox's cgroup: %w", err)
		}
	}
	serr := start()
	for _, p := range f.parent {
		if _, err := p.Write(self); err != nil {
			return errors.Join(serr, fmt.Errorf("leave the sandbox's cgroup: %w", err))
		}
	}
	return serr
}

// read is the child's state: StateFrozen once every process is frozen,
// else StateThawed (also while freezing).
func (f *freezer) read() (string, error) {
	buf := make([]byte, 512)
	if f.v2 {
		n, err := f.events.ReadAt(buf, 0)
		if n == 0 && err != nil {
			return "", err
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if line == "frozen 1" {
				return StateFrozen, nil
			}
		}
		return StateThawed, nil
	}
	n, err := f.state.ReadAt(buf, 0)
	if n == 0 && err != nil {
		return "", err
	}
	if string(bytes.TrimSpace(buf[:n])) == StateFrozen {
		return StateFrozen, nil
	}
	return StateThawed, nil
}

// set freezes or thaws the child and waits until the kernel has done it.
func (f *freezer) set(frozen bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	val, want := "THAWED", StateThawed
	if f.v2 {
		val = "0"
	}
	if frozen {
		val, want = "FROZEN", StateFrozen
		if f.v2 {
			val = "1"
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := f.state.WriteAt([]byte(val), 0); err != nil {
			return "", err
		}
		got, err := f.read()
		if err != nil || got == want {
			return got, err
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("the sandbox is still %s", got)
		}
		// FREEZING lasts milliseconds; v1 may need the write again.
		time.Sleep(2 * time.Millisecond)
	}
}

// serveControl answers, on ln, connections that start with the token
// line (protocol.TokenLine) and then ask one command; the answer is the
// state, or "error: ...". A connection without the token is closed
// unanswered.
func serveControl(ln net.Listener, token string, f *freezer, h *holder) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			if protocol.CheckToken(r, token) != nil {
				return
			}
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			var state string
			cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch cmd {
			case ControlFreeze:
				state, err = f.set(true)
			case ControlThaw:
				state, err = f.set(false)
			case ControlState:
				if h.held() {
					state = StateHeld
					break
				}
				f.mu.Lock()
				state, err = f.read()
				f.mu.Unlock()
			case ControlTake:
				state, err = h.take(arg)
			case ControlStats:
				state, err = f.stats()
			default:
				err = fmt.Errorf("unknown command %q", cmd)
			}
			if err != nil {
				fmt.Fprintf(c, "error: %v\n", err)
				return
			}
			fmt.Fprintln(c, state)
		}()
	}
}

// listenControl binds the control port.
func listenControl(port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("control port: %w", err)
	}
	return ln, nil
}

// stats is the sandbox's line of counters, "cpu=NS memory=BYTES
// limit=BYTES oom=N pids=N": the CPU time of the sandbox's child cgroup
// (boot's own answering is not the sandbox's), the rest the container's
// cgroup's as boot's /sys/fs/cgroup (the container's, read-only) shows
// them.
func (f *freezer) stats() (string, error) {
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	number := func(s string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64) // "max": no limit
		return n
	}
	field := func(s, name string) int64 {
		for _, line := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return number(v)
			}
		}
		return 0
	}
	buf := make([]byte, 1024)
	n, err := f.cpu.ReadAt(buf, 0)
	if n == 0 && err != nil {
		return "", fmt.Errorf("cpu usage: %w", err)
	}
	cpu := string(buf[:n])
	var cpuNS, mem, limit, oom, pids int64
	if f.v2 {
		cpuNS = field(cpu, "usage_usec") * 1000
		mem = number(read("/sys/fs/cgroup/memory.current"))
		limit = number(read("/sys/fs/cgroup/memory.max"))
		oom = field(read("/sys/fs/cgroup/memory.events"), "oom_kill")
		pids = number(read("/sys/fs/cgroup/pids.current"))
	} else {
		cpuNS = number(cpu)
		mem = number(read("/sys/fs/cgroup/memory/memory.usage_in_bytes"))
		limit = number(read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
		oom = field(read("/sys/fs/cgroup/memory/memory.oom_control"), "oom_kill")
		pids = number(read("/sys/fs/cgroup/pids/pids.current"))
	}
	return fmt.Sprintf("cpu=%d memory=%d limit=%d oom=%d pids=%d", cpuNS, mem, limit, oom, pids), nil
}
