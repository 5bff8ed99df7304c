package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// AgentFDFlag passes init the descriptor of the agent's listening socket,
// which the host made and bound before the sandbox started (the runtime
// hands it over as fd 3 and up). The host owns the socket's path, so a
// sandbox can neither move nor replace it.
const AgentFDFlag = "--agent-fd"

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
}

// startAgent starts the agent when opts carry AgentFDFlag; nil otherwise.
func startAgent(opts []string) *agentProc {
	fd := -1
	for i := 0; i+1 < len(opts); i++ {
		if opts[i] == AgentFDFlag {
			fd, _ = strconv.Atoi(opts[i+1])
		}
	}
	if fd < 3 {
		return nil
	}
	// Inherited without close-on-exec: the workload must not get it.
	syscall.CloseOnExec(fd)
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: agent: %v\n", err)
		return nil
	}
	a := &agentProc{exe: exe, ln: os.NewFile(uintptr(fd), "agent.sock")}
	a.start()
	return a
}

func (a *agentProc) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	cmd := exec.Command(a.exe, "agent", "--fd", "3")
	cmd.ExtraFiles = []*os.File{a.ln}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Its own session: signals init forwards to the workload's group
	// must not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startRanked(cmd); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: start agent: %v\n", err)
		return
	}
	a.pid, a.started = cmd.Process.Pid, time.Now()
	_ = cmd.Process.Release() // init reaps it with wait4(-1)
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
