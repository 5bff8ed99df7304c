// Package initproc is the PID 1 of every sandbox. A process that is PID 1 of
// a pid namespace has two duties no ordinary program fulfils: it must reap
// every orphan (otherwise zombies fill pids.max) and it must pass the
// signals of a stop on to the real workload (the kernel drops signals to
// PID 1 that have no handler).
package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// ExitMarker starts the line Run writes to stderr when the workload ends,
// so that a restarted server can read the exit status from the sandbox log
// after the process itself is long gone.
const ExitMarker = "hutch-init: exit status "

// Run runs the command after "--" in args as the child of PID 1 and returns
// its exit status (128+signal when it was killed). Without a command it
// idles until it is signalled, so that a sandbox can be kept alive for an
// agent that is started later. With TakeFDFlag and no command, it waits
// for the host to send the command (see waitTake).
func Run(args []string) int {
	var argv, opts []string
	opts = args
	for i, a := range args {
		if a == "--" {
			argv, opts = args[i+1:], args[:i]
			break
		}
	}
	if err := Untraceable(); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: %v\n", err)
	}
	con := console(opts)
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD,
		AgentSuspendSignal, AgentResumeSignal)
	defer signal.Stop(sigs)
	ag := startAgent(opts)
	if ln := takeListener(opts); ln != nil && len(argv) == 0 {
		t, status, ok := waitTake(sigs, ag, ln)
		if !ok {
			return status
		}
		argv = t.req.Args
	}

	if len(argv) == 0 {
		return idle(sigs, ag)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Its own process group, so that a forwarded signal reaches the whole
	// job (a shell and the commands it started), not only its leader.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startRanked(cmd); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: %v\n", err)
		con.exit(127)
		return 127
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		if ag.control(sig) {
			continue
		}
		if sig != syscall.SIGCHLD {
			_ = syscall.Kill(-child, sig.(syscall.Signal))
			continue
		}
		if status, done := reap(child, ag); done {
			con.exit(status)
			return status
		}
	}
	return 0 // not reached: sigs is never closed
}

// idle waits for a termination signal while reaping orphans.
func idle(sigs chan os.Signal, ag *agentProc) int {
	for sig := range sigs {
		if ag.control(sig) {
			continue
		}
		if sig == syscall.SIGCHLD {
			reap(-1, ag)
			continue
		}
		return 128 + int(sig.(syscall.Signal))
	}
	return 0
}

// reap collects every exited child without blocking and reports whether
// child was among them, with its exit status. An agent that died is
// started again.
func reap(child int, ag *agentProc) (int, bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return 0, false
		}
		if pid == child {
			return exitStatus(ws), true
		}
		ag.exited(pid, ws)
	}
}

// exitStatus folds a wait status into a shell-style exit code.
func exitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
