package initproc

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TakeFDFlag passes init the descriptor of a listening socket the host
// made and bound before the sandbox started, as for the agent's: init
// then starts the agent but holds the workload back until the host
// connects and sends a TakeRequest (a prepared sandbox of a warm pool
// becoming a user's). Only the host can reach the socket, and the agent
// and the workload never inherit it, so nothing inside the sandbox can
// send one.
const TakeFDFlag = "--take-fd"

// takeTimeout bounds how long init waits for a connected host to send
// its request.
const takeTimeout = 10 * time.Second

// TakeRequest is the user's part of a sandbox, which a prepared one
// lacks: its workload (none: it idles), environment (the whole of it,
// image's and user's) and working directory. The host sets the hostname
// (init lacks the capability).
type TakeRequest struct {
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env"`
	Cwd  string   `json:"cwd,omitempty"`
}

// TakeReply answers a TakeRequest once init has applied it and ended
// the agent that ran with the prepared environment; the workload and the
// new agent start right after (a workload that cannot start ends init,
// as at a cold boot).
type TakeReply struct {
	Error string `json:"error,omitempty"`
}

// taken is a request received, with the connection to answer on.
type taken struct {
	req  TakeRequest
	conn net.Conn
}

// takeListener returns the socket TakeFDFlag names, or nil.
func takeListener(opts []string) net.Listener {
	for i := 0; i+1 < len(opts); i++ {
		if opts[i] != TakeFDFlag {
			continue
		}
		fd, _ := strconv.Atoi(opts[i+1])
		if fd < 3 {
			return nil
		}
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "take.sock")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "hutch-init: take socket: %v\n", err)
			return nil
		}
		return ln
	}
	return nil
}

// acceptTake delivers the first well-formed request on ln, then closes
// ln: a sandbox is taken once.
func acceptTake(ln net.Listener, out chan<- taken) {
	defer ln.Close()
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "hutch-init: take socket: %v\n", err)
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(takeTimeout))
		var req TakeRequest
		if err := json.NewDecoder(c).Decode(&req); err != nil {
			_ = json.NewEncoder(c).Encode(TakeReply{Error: "bad request: " + err.Error()})
			c.Close()
			continue
		}
		_ = c.SetReadDeadline(time.Time{})
		out <- taken{req, c}
		return
	}
}

// waitTake idles as a prepared sandbox (reaping, restarting the agent)
// until the host takes it; it then applies the request's environment and
// directory, ends the agent, answers, and starts the agent again so that
// its commands see them (the host's connections made meanwhile wait in
// the socket's backlog). The host waits for the first steps only: the
// forks come after the answer. ok is false when a signal ended the wait
// first.
func waitTake(sigs chan os.Signal, ag *agentProc, ln net.Listener) (t taken, status int, ok bool) {
	reqs := make(chan taken, 1)
	go acceptTake(ln, reqs)
	for {
		select {
		case t = <-reqs:
			err := t.req.apply()
			if err != nil {
				fmt.Fprintf(os.Stderr, "hutch-init: take: %v\n", err)
			}
			ag.kill()
			t.answer(err)
			ag.start()
			return t, 0, true
		case sig := <-sigs:
			// A prepared sandbox is never restored from a checkpoint:
			// it does not execute itself (ReexecSignal) before it is taken.
			if ag.control(sig) || sig == ReexecSignal {
				continue
			}
			if sig == syscall.SIGCHLD {
				reap(-1, ag)
				continue
			}
			return t, 128 + int(sig.(syscall.Signal)), false
		}
	}
}

// apply makes init's environment and directory the request's; the
// workload and the agent inherit them.
func (r TakeRequest) apply() error {
	os.Clearenv()
	for _, kv := range r.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			_ = os.Setenv(k, v)
		}
	}
	if r.Cwd != "" {
		return os.Chdir(r.Cwd)
	}
	return nil
}

// answer replies to the host that took the sandbox, if one did.
func (t taken) answer(err error) {
	if t.conn == nil {
		return
	}
	var rep TakeReply
	if err != nil {
		rep.Error = err.Error()
	}
	_ = json.NewEncoder(t.conn).Encode(rep)
	t.conn.Close()
}
