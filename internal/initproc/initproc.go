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
// for the host to send the command (see waitTake). ReexecSignal has it
// execute itself again; the init it executes goes on with the same
// workload and agent.
func Run(args []string) int {
	var argv, opts []string
	opts = args
	for i, a := range args {
		if a == "--" {
			argv, opts = args[i+1:], args[:i]
			break
		}
	}
	held, execs, opts, herr := takeHeld(opts)
	if err := Untraceable(); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: %v\n", err)
	}
	in := &initProc{opts: opts, execs: execs}
	if n := len(os.Args) - len(args); n > 0 {
		in.prefix = os.Args[:n]
	}
	if held != nil {
		in.con, in.ag, herr = resumeHeld(held, opts)
	} else {
		in.con = console(opts)
	}
	if herr != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: %v\n", herr)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD,
		AgentSuspendSignal, AgentResumeSignal, ReexecSignal)
	defer signal.Stop(sigs)
	switch {
	case held != nil:
		in.child = held.Child
		// What ended while init executed itself.
		if status, done := reap(in.child, in.ag); done && in.child > 0 {
			in.con.exit(status)
			return status
		}
	default:
		in.ag = startAgent(opts)
		if ln := takeListener(opts); ln != nil && len(argv) == 0 {
			t, status, ok := waitTake(sigs, in.ag, ln)
			if !ok {
				return status
			}
			argv = t.req.Args
		}
		if len(argv) > 0 {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			// Its own process group, so that a forwarded signal reaches the whole
			// job (a shell and the commands it started), not only its leader.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := startRanked(cmd); err != nil {
				fmt.Fprintf(os.Stderr, "hutch-init: %v\n", err)
				in.con.exit(127)
				return 127
			}
			in.child = cmd.Process.Pid
		}
	}
	if in.child == 0 {
		return in.idle(sigs)
	}
	for sig := range sigs {
		switch {
		case in.ag.control(sig):
		case sig == ReexecSignal:
			in.reexecOrSay()
		case sig != syscall.SIGCHLD:
			_ = syscall.Kill(-in.child, sig.(syscall.Signal))
		default:
			if status, done := reap(in.child, in.ag); done {
				in.con.exit(status)
				return status
			}
		}
	}
	return 0 // not reached: sigs is never closed
}

// initProc is what init holds while it runs: what it executes itself
// with (prefix, the command line before args, and opts) and what an init
// it executes takes over.
type initProc struct {
	prefix []string
	opts   []string
	con    *Console
	ag     *agentProc
	child  int // the workload's pid; 0 when init idles
	execs  int // times init executed itself (ExecCountFlag)
}

// idle waits for a termination signal while reaping orphans.
func (in *initProc) idle(sigs chan os.Signal) int {
	for sig := range sigs {
		switch {
		case in.ag.control(sig):
		case sig == ReexecSignal:
			in.reexecOrSay()
		case sig == syscall.SIGCHLD:
			reap(-1, in.ag)
		default:
			return 128 + int(sig.(syscall.Signal))
		}
	}
	return 0
}

// reexecOrSay executes init again; a failure is told on the console and
// init goes on.
func (in *initProc) reexecOrSay() {
	if err := in.reexec(); err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: execute init again: %v\n", err)
	}
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
