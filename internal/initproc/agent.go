package initproc

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"golang.org/x/sys/unix"
)

// AgentFDFlag passes init the descriptor of the agent's listening socket,
// which the host made and bound before the sandbox started (the runtime
// hands it over as fd 3 and up). The host owns the socket's path, so a
// sandbox can neither move nor replace it.
const AgentFDFlag = "--agent-fd"

// AgentSocketFlag has init bind the agent's socket itself, at a path
// inside the sandbox, for runtimes that cannot pass a listening socket in
// (gVisor hands a sandbox only connected host sockets). The runtime puts
// that path on a directory of the host's, where the host dials it.
const AgentSocketFlag = "--agent-socket"

// agentRestartDelay spaces out restarts of an agent that keeps dying, so
// that a crash loop does not eat the sandbox's CPU.
const agentRestartDelay = time.Second

// agentProc supervises `hutch agent` as a child of init. It runs as its
// own process, not inside PID 1: a panic in a request handler then costs
// one restart, not the whole sandbox, and the agent waits for its own
// children with os/exec while init keeps reaping the orphans.
type agentProc struct {
	mu      sync.Mutex
	exe     string
	ln      *os.File
	pid     int
	started time.Time
	// path is where init bound the socket itself (AgentSocketFlag);
	// suspended is set between AgentSuspendSignal and AgentResumeSignal.
	path      string
	suspended bool
	// env is the agent's environment when it differs from init's (its
	// token); nil otherwise.
	env []string
}

// AgentSuspendSignal and AgentResumeSignal have an init that bound the
// agent's socket itself (AgentSocketFlag) end the agent and close that
// socket, and bind it and start the agent again: gVisor cannot checkpoint
// a sandbox that holds a socket of the host, so its driver suspends the
// agent around a checkpoint.
const (
	AgentSuspendSignal = syscall.SIGUSR1
	AgentResumeSignal  = syscall.SIGUSR2
)

// control handles the agent's signals (ignored when init did not bind
// the socket itself); false for any other signal.
func (a *agentProc) control(sig os.Signal) bool {
	if sig != AgentSuspendSignal && sig != AgentResumeSignal {
		return false
	}
	if a == nil || a.path == "" {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if sig == AgentSuspendSignal && !a.suspended {
		a.suspended = true
		if a.pid > 0 {
			// Its connections are host sockets too. Its exit is then an
			// orphan's, not a crash to restart from (as kill has it).
			_ = syscall.Kill(a.pid, syscall.SIGKILL)
			a.pid = 0
		}
		a.ln.Close()
		_ = os.Remove(a.path)
	}
	if sig == AgentResumeSignal && a.suspended {
		if a.ln = listenAgent(a.path); a.ln != nil {
			a.suspended = false
			if a.pid == 0 {
				a.startLocked()
			}
		}
	}
	return true
}

// startAgent starts the agent when opts carry AgentFDFlag or
// AgentSocketFlag; nil otherwise.
func startAgent(opts []string) *agentProc {
	env := agentEnv()
	var ln *os.File
	var path string
	for i := 0; i+1 < len(opts); i++ {
		switch opts[i] {
		case AgentFDFlag:
			if fd, _ := strconv.Atoi(opts[i+1]); fd >= 3 {
				// Inherited without close-on-exec: the workload must not get it.
				syscall.CloseOnExec(fd)
				ln = os.NewFile(uintptr(fd), "agent.sock")
			}
		case AgentSocketFlag:
			path = opts[i+1]
			ln = listenAgent(path)
		}
	}
	if ln == nil {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: agent: %v\n", err)
		return nil
	}
	a := &agentProc{exe: exe, ln: ln, path: path, env: env}
	a.start()
	return a
}

// agentEnv takes the agent's token (a driver whose agent listens on a
// network) out of init's environment, as it is the agent's alone: no
// process init starts but the agent gets it. It returns the agent's
// environment, nil without a token.
func agentEnv() []string {
	token, ok := os.LookupEnv(protocol.TokenEnv)
	os.Unsetenv(protocol.TokenEnv)
	if !ok {
		return nil
	}
	return append(os.Environ(), protocol.TokenEnv+"="+token)
}

// agentToken is the token entry of the agent's environment, or "".
func (a *agentProc) agentToken() string {
	for _, kv := range a.env {
		if strings.HasPrefix(kv, protocol.TokenEnv+"=") {
			return kv
		}
	}
	return ""
}

// listenAgent binds the agent's socket at path and returns it as a file
// (close-on-exec), or nil (reported) when it cannot.
func listenAgent(path string) *os.File {
	_ = os.Remove(path) // a previous boot's
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: agent socket: %v\n", err)
		return nil
	}
	ln.SetUnlinkOnClose(false)
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: agent socket: %v\n", err)
		return nil
	}
	_ = os.Chmod(path, 0o600)
	return f
}

// start starts the agent unless one runs or it is suspended.
func (a *agentProc) start() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.suspended && a.pid == 0 {
		a.startLocked()
	}
}

func (a *agentProc) startLocked() {
	st, err := a.execState()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: start agent: %v\n", err)
		return
	}
	cmd := exec.Command(a.exe, "agent", "--fd", "3", "--"+AgentExecFlag, st)
	cmd.ExtraFiles = []*os.File{a.ln}
	cmd.Env = a.env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Its own session: signals init forwards to the workload's group
	// must not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startUndumpable(cmd); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: start agent: %v\n", err)
		return
	}
	a.pid, a.started = cmd.Process.Pid, time.Now()
	_ = cmd.Process.Release() // init reaps it with wait4(-1)
}

// kill ends the agent for good (start brings a new one): a SIGKILL, so
// that once kill returns the old agent runs no more of its code, and
// accepts no connection the host makes afterwards. Its exit is reaped as
// any orphan's, and restarts nothing.
func (a *agentProc) kill() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pid > 0 {
		_ = syscall.Kill(a.pid, syscall.SIGKILL)
		a.pid = 0
	}
}

// exited restarts the agent when pid was it. Until the restart, no agent
// runs (pid 0): a restart that comes due after another start (a resume
// from AgentResumeSignal, a take) finds one running and starts no second.
func (a *agentProc) exited(pid int, ws syscall.WaitStatus) {
	if a == nil {
		return
	}
	a.mu.Lock()
	mine := pid == a.pid
	if mine {
		a.pid = 0
	}
	wait := agentRestartDelay - time.Since(a.started)
	a.mu.Unlock()
	if !mine {
		return
	}
	fmt.Fprintf(os.Stderr, "hutch-init: agent exited with status %d; restarting\n", exitStatus(ws))
	if wait <= 0 {
		a.start()
		return
	}
	time.AfterFunc(wait, a.start)
}

// AgentExecFlag (a flag of `hutch agent`) carries what the agent's
// execve changed, as it was before (agentExec, JSON): the agent puts it
// back (RestoreAgentExec) before it serves anything.
const AgentExecFlag = "exec-state"

// agentExecGID is the real gid of init's thread that starts the agent
// (its effective gid stays). An execve by a process whose real and
// effective ids differ yields one that is not dumpable from its first
// instruction, so nothing in the sandbox can attach to the agent, or
// take its listening socket (pidfd_getfd), before it calls Untraceable:
// the sandbox's root shares the agent's uid and can kill it to have init
// start it again. A gid, not a uid as for init's own execve (reexecUID):
// init's uids decide who may signal it. 65534 (nogroup) is mapped in
// every sandbox.
const agentExecGID = 65534

// agentExec is what the agent's execve with agentExecGID changes.
type agentExec struct {
	// GID and EGID are init's real and effective gids, the agent's
	// without agentExecGID (no_new_privs also has the execve lower the
	// effective gid to the real one).
	GID  int `json:"gid"`
	EGID int `json:"egid"`
	// Traceback is the agent's GOTRACEBACK, nil when unset: Go's runtime
	// forces it to "none" in a program executed with real and effective
	// ids that differ (its secure mode).
	Traceback *string `json:"traceback,omitempty"`
	// Stack is the soft RLIMIT_STACK, which the kernel lowers to 8 MiB in
	// such an execve.
	Stack uint64 `json:"stack"`
}

// execState is the agent's AgentExecFlag.
func (a *agentProc) execState() (string, error) {
	st := agentExec{GID: os.Getgid(), EGID: os.Getegid()}
	env := a.env
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOTRACEBACK="); ok {
			st.Traceback = &v
		}
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &lim); err != nil {
		return "", err
	}
	st.Stack = lim.Cur
	b, err := json.Marshal(st)
	return string(b), err
}

// startUndumpable starts cmd at init's own OOM score (startAtOwn: the
// agent raises what it starts) from a thread whose real gid is
// agentExecGID for the moment. Only that thread's gid changes, so
// nothing else init runs sees it. When that gid cannot be had, the agent
// starts dumpable until its Untraceable.
func startUndumpable(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	gid := os.Getgid()
	// The raw call changes the calling thread's gids only; the runtime
	// starts no thread from a locked one.
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, agentExecGID, ^uintptr(0), ^uintptr(0)); errno != 0 {
		runtime.UnlockOSThread()
		fmt.Fprintf(os.Stderr, "hutch-init: agent: real gid %d: %v; it starts dumpable\n", agentExecGID, errno)
		return startAtOwn(cmd)
	}
	err := startAtOwn(cmd)
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), ^uintptr(0), ^uintptr(0)); errno != 0 {
		// The thread stays locked, so that no other goroutine runs with
		// that gid; the agent, when it started, is init's all the same.
		fmt.Fprintf(os.Stderr, "hutch-init: real gid %d back: %v\n", gid, errno)
		return err
	}
	runtime.UnlockOSThread()
	return err
}

// RestoreAgentExec puts back, in the agent, what its execve changed
// (state is its AgentExecFlag): its gids, GOTRACEBACK and RLIMIT_STACK,
// so that the user's commands get the credentials and environment the
// agent would have had without agentExecGID.
func RestoreAgentExec(state string) error {
	var st agentExec
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return fmt.Errorf("--%s: %w", AgentExecFlag, err)
	}
	// syscall's Setresgid changes every thread's gids.
	if err := syscall.Setresgid(st.GID, st.EGID, st.EGID); err != nil {
		return fmt.Errorf("gids %d %d: %w", st.GID, st.EGID, err)
	}
	if st.Traceback == nil {
		os.Unsetenv("GOTRACEBACK")
		debug.SetTraceback("single")
	} else {
		os.Setenv("GOTRACEBACK", *st.Traceback)
		debug.SetTraceback(*st.Traceback)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &lim); err != nil {
		return err
	}
	if lim.Cur != st.Stack {
		lim.Cur = st.Stack
		if err := unix.Setrlimit(unix.RLIMIT_STACK, &lim); err != nil {
			return fmt.Errorf("RLIMIT_STACK %d: %w", st.Stack, err)
		}
	}
	return nil
}
