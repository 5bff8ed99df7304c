package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ReexecSignal has init execute itself again: same pid, same children,
// same agent socket and console pipe. The host sends it after a CRIU
// restore. CRIU forks the processes it restores from itself, in the
// host's user namespace, and they execute nothing afterwards, so the
// restored init's memory belongs to the host's user namespace. Init is
// not dumpable (Untraceable), and the kernel lets a process open a
// non-dumpable one's /proc/<pid>/ns/* only with CAP_SYS_PTRACE over the
// user namespace its memory belongs to; CRIU's next dump opens init's
// namespaces as the sandbox's root, capable only inside the sandbox's
// user namespace, and fails ("Can't open <pid>/ns/uts on procfs:
// Permission denied"). An execve gives init memory of the sandbox's user
// namespace again. The user's own processes are left as they are: they
// keep their memory and pids, and being dumpable they pass that check.
const ReexecSignal = syscall.SIGPWR

// ExecCountFlag carries, on the command line of an init that executed
// itself, how many times it has done so since the sandbox booted. CRIU
// restores the command line with the memory, so the host reads whether
// init has executed itself since a restore: the count is higher than
// the restored command line's.
const ExecCountFlag = "--execs"

// heldFlag carries, from an init to the init it executes, what the first
// held (heldState), as JSON. Only init passes it to itself.
const heldFlag = "--held"

// reexecUID is the real uid init takes for its execve (its effective and
// saved uids stay). An execve by a process whose real and effective uids
// differ yields one that is not dumpable from its first instruction, so
// nothing in the sandbox can attach to the new init, or take its
// descriptors (pidfd_getfd), before it calls Untraceable: a process of
// the sandbox's root would pass the uid check on an init that is
// dumpable, and a sandbox can send ReexecSignal itself. 65534 (nobody)
// is mapped in every sandbox.
const reexecUID = 65534

// heldState is what an init hands to the init it executes.
type heldState struct {
	// UID is the real uid to take back (reexecUID replaced it).
	UID int `json:"uid"`
	// Child is the workload's pid; 0 when init idles.
	Child int `json:"child,omitempty"`
	// Agent is the agent's pid (0 when none runs); AgentFD the agent's
	// listening socket (0 while suspended or without an agent).
	Agent     int  `json:"agent,omitempty"`
	AgentFD   int  `json:"agentFD,omitempty"`
	Suspended bool `json:"suspended,omitempty"`
	// ConsoleFD is the read end of the console's pipe, whose write end is
	// fds 1 and 2 already; 0 without a console.
	ConsoleFD int `json:"consoleFD,omitempty"`
	// Traceback is GOTRACEBACK before the execve, "" when unset: Go's
	// runtime forces it to "none" in a program executed with real and
	// effective uids that differ (its secure mode).
	Traceback string `json:"traceback,omitempty"`
	// Stack is the soft RLIMIT_STACK, which the kernel lowers to 8 MiB in
	// an execve with real and effective uids that differ (0: unknown).
	Stack uint64 `json:"stack,omitempty"`
}

// takeHeld removes heldFlag and ExecCountFlag from opts and returns the
// state heldFlag carries (nil when init did not execute itself) and the
// count.
func takeHeld(opts []string) (*heldState, int, []string, error) {
	var h *heldState
	var err error
	execs := 0
	rest := make([]string, 0, len(opts))
	for i := 0; i < len(opts); i++ {
		switch {
		case opts[i] == heldFlag && i+1 < len(opts):
			h = &heldState{}
			err = json.Unmarshal([]byte(opts[i+1]), h)
			i++
		case opts[i] == ExecCountFlag && i+1 < len(opts):
			execs, _ = strconv.Atoi(opts[i+1])
			i++
		default:
			rest = append(rest, opts[i])
		}
	}
	if err != nil {
		return nil, execs, rest, fmt.Errorf("%s: %w", heldFlag, err)
	}
	return h, execs, rest, nil
}

// withoutTake is opts without TakeFDFlag: the take socket is closed once
// the sandbox is taken, and an init that executed itself is past that.
func withoutTake(opts []string) []string {
	out := make([]string, 0, len(opts))
	for i := 0; i < len(opts); i++ {
		if opts[i] == TakeFDFlag && i+1 < len(opts) {
			i++
			continue
		}
		out = append(out, opts[i])
	}
	return out
}

// reexec executes init again with what it holds (see ReexecSignal). It
// returns only when that failed; init then goes on as it was.
func (in *initProc) reexec() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	h := heldState{UID: os.Getuid(), Child: in.child, Traceback: os.Getenv("GOTRACEBACK")}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_STACK, &lim) == nil {
		h.Stack = lim.Cur
	}
	env := os.Environ()
	var inherit []int
	if a := in.ag; a != nil {
		// Held until the execve: no restart of the agent slips in between.
		a.mu.Lock()
		defer a.mu.Unlock()
		h.Agent, h.Suspended = a.pid, a.suspended
		// The next init takes the token out of its environment again
		// (agentEnv); its memory is as untraceable as this one's.
		if kv := a.agentToken(); kv != "" {
			env = append(env, kv)
		}
		if !a.suspended && a.ln != nil {
			h.AgentFD = int(a.ln.Fd())
			inherit = append(inherit, h.AgentFD)
		}
	}
	if in.con != nil {
		fd, resume, err := in.con.handOver()
		if err != nil {
			return err
		}
		defer resume() // reached only when the execve failed
		h.ConsoleFD = fd
		inherit = append(inherit, fd)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	argv := append(append([]string{}, in.prefix...), withoutTake(in.opts)...)
	argv = append(argv, heldFlag, string(b), ExecCountFlag, strconv.Itoa(in.execs+1))
	for _, fd := range inherit {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return err
		}
	}
	defer func() {
		for _, fd := range inherit {
			syscall.CloseOnExec(fd)
		}
	}()
	// syscall's Setresuid changes every thread's uids, as the kernel's
	// dumpability check at execve reads the calling thread's.
	if err := syscall.Setresuid(reexecUID, -1, -1); err != nil {
		return fmt.Errorf("real uid %d for the execve: %w", reexecUID, err)
	}
	err = syscall.Exec(exe, argv, env)
	if rerr := syscall.Setresuid(h.UID, -1, -1); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return fmt.Errorf("execve %s: %w", exe, err)
}

// resumeHeld takes up, in an init that executed itself, what the one
// before held: its real uid, the console's pipe and the agent. The caller
// made itself untraceable first.
func resumeHeld(h *heldState, opts []string) (*Console, *agentProc, error) {
	var errs []error
	// Init's children (a restarted agent, and through it the user's
	// commands) get the environment as it was, and init its tracebacks.
	if h.Traceback == "" {
		os.Unsetenv("GOTRACEBACK")
		debug.SetTraceback("single")
	} else {
		os.Setenv("GOTRACEBACK", h.Traceback)
		debug.SetTraceback(h.Traceback)
	}
	var lim unix.Rlimit
	if h.Stack != 0 && unix.Getrlimit(unix.RLIMIT_STACK, &lim) == nil && lim.Cur != h.Stack {
		lim.Cur = h.Stack
		if err := unix.Setrlimit(unix.RLIMIT_STACK, &lim); err != nil {
			errs = append(errs, fmt.Errorf("RLIMIT_STACK %d: %w", h.Stack, err))
		}
	}
	if os.Getuid() != h.UID {
		if err := syscall.Setresuid(h.UID, -1, -1); err != nil {
			errs = append(errs, fmt.Errorf("real uid %d: %w", h.UID, err))
		}
	}
	var con *Console
	if h.ConsoleFD > 0 {
		c, err := adoptConsole(opts, h.ConsoleFD)
		if err != nil {
			errs = append(errs, fmt.Errorf("console: %w", err))
		}
		con = c
	}
	return con, adoptAgent(opts, h), errors.Join(errs...)
}

// adoptConsole copies the console's pipe, whose read end is fd, into the
// log the options name, as openConsole's console does.
func adoptConsole(opts []string, fd int) (*Console, error) {
	syscall.CloseOnExec(fd)
	// Non-blocking, so that the file is pollable and flush's deadline
	// stops drain.
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	r := os.NewFile(uintptr(fd), "console")
	dir, limit := consoleOpts(opts)
	c, err := newConsole(dir, limit)
	if err != nil {
		r.Close()
		return nil, err
	}
	c.r = r
	go c.drain()
	return c, nil
}

// handOver stops copying the pipe (what is in it stays there, for the
// next init) and returns the pipe's read end, with a function that starts
// copying again when the execve failed.
func (c *Console) handOver() (int, func(), error) {
	rc, err := c.r.SyscallConn()
	if err != nil {
		return 0, nil, err
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, nil, err
	}
	if err := c.r.SetReadDeadline(time.Now()); err != nil {
		return 0, nil, err
	}
	<-c.done
	resume := func() {
		_ = c.r.SetReadDeadline(time.Time{})
		c.done = make(chan struct{})
		go c.drain()
	}
	return fd, resume, nil
}

// adoptAgent takes up the agent the previous init supervised: its
// listener (fd h.AgentFD) and, when it runs, its process, which stays
// init's child. One that was waiting to be restarted is started now.
func adoptAgent(opts []string, h *heldState) *agentProc {
	env := agentEnv()
	var path string
	for i := 0; i+1 < len(opts); i++ {
		if opts[i] == AgentSocketFlag {
			path = opts[i+1]
		}
	}
	if h.AgentFD <= 0 && !h.Suspended {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: agent: %v\n", err)
		return nil
	}
	a := &agentProc{exe: exe, path: path, pid: h.Agent, suspended: h.Suspended, env: env}
	if h.AgentFD > 0 {
		syscall.CloseOnExec(h.AgentFD)
		a.ln = os.NewFile(uintptr(h.AgentFD), "agent.sock")
	}
	if a.pid == 0 {
		a.start()
	}
	return a
}
