package initproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
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
			_ = syscall.Kill(a.pid, syscall.SIGKILL) // its connections are host sockets too
		}
		a.ln.Close()
		_ = os.Remove(a.path)
	}
	if sig == AgentResumeSignal && a.suspended {
		if a.ln = listenAgent(a.path); a.ln != nil {
			a.suspended = false
			a.startLocked()
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

func (a *agentProc) start() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.suspended {
		a.startLocked()
	}
}

func (a *agentProc) startLocked() {
	cmd := exec.Command(a.exe, "agent", "--fd", "3")
	cmd.ExtraFiles = []*os.File{a.ln}
	cmd.Env = a.env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Its own session: signals init forwards to the workload's group
	// must not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// At init's own OOM score: the agent raises what it starts.
	if err := startAtOwn(cmd); err != nil {
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

// exited restarts the agent when pid was it.
func (a *agentProc) exited(pid int, ws syscall.WaitStatus) {
	if a == nil {
		return
	}
	a.mu.Lock()
	mine := pid == a.pid
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
