package e2b

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	pb "github.com/hutchdev/hutch/internal/compat/e2b/envdpb/process"
)

// sink sends a stream's events one at a time, with a keepalive whenever
// the interval passes, and keeps the first error of the stream.
type sink struct {
	mu   sync.Mutex
	send func(*pb.ProcessEvent) error
	err  error
	done chan struct{}
}

func newSink(send func(*pb.ProcessEvent) error, every time.Duration) *sink {
	k := &sink{send: send, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				k.emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_Keepalive{Keepalive: &pb.ProcessEvent_KeepAlive{}}})
			case <-k.done:
				return
			}
		}
	}()
	return k
}

func (k *sink) emit(ev *pb.ProcessEvent) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err == nil {
		k.err = k.send(ev)
	}
}

func (k *sink) start(pid uint32) {
	k.emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_Start{Start: &pb.ProcessEvent_StartEvent{Pid: pid}}})
}

func (k *sink) data(d *pb.ProcessEvent_DataEvent) {
	k.emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_Data{Data: d}})
}

// end sends the end event for an exit code.
func (k *sink) end(code int) {
	status := fmt.Sprintf("exit status %d", code)
	end := &pb.ProcessEvent_EndEvent{ExitCode: int32(code), Exited: true, Status: status}
	if code != 0 {
		end.Error = &status
	}
	k.emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_End{End: end}})
}

// close stops the keepalives and answers the stream's first error.
func (k *sink) close() error {
	close(k.done)
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// follow sends start, the process's output and its end.
func (s *processService) follow(ctx context.Context, call *compat.AgentCall, pid int, k *sink) error {
	k.start(uint32(pid))
	out := func(streamName, data string) {
		if streamName == "stderr" {
			k.data(&pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Stderr{Stderr: []byte(data)}})
		} else {
			k.data(&pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Stdout{Stdout: []byte(data)}})
		}
	}
	p, err := call.Client.ProcessLogs(ctx, call.Sandbox.ID, pid, true, out)
	if err == nil && (p == nil || p.ExitCode == nil) {
		err = fmt.Errorf("the output of process %d ended before it did: %w", pid, io.ErrUnexpectedEOF)
	}
	if err != nil {
		k.close()
		return err
	}
	k.end(*p.ExitCode)
	return k.close()
}

// startPty runs a command on a terminal of the agent: the terminal's
// bytes are the pty data events, its size the request's. It ends with the
// command, with the stream (a deadline, a client gone, a pause), or with
// a signal, which hangs the terminal up. It runs as the agent's user, and
// the terminal sets TERM itself.
func (s *processService) startPty(ctx context.Context, call *compat.AgentCall, msg *pb.StartRequest, k *sink) error {
	cfg := msg.GetProcess()
	argv := append([]string{cfg.GetCmd()}, cfg.GetArgs()...)
	size := msg.GetPty().GetSize()
	term, err := call.Client.OpenTerminal(ctx, call.Sandbox.ID, client.TerminalOptions{Cols: int(size.GetCols()),
		Rows: int(size.GetRows()), Command: shellLine(argv, cfg.GetEnvs()), Cwd: cfg.GetCwd()})
	if err != nil {
		k.close()
		return err
	}
	defer term.Close()
	sess := &ptySession{term: term, argv: argv, cwd: cfg.GetCwd()}
	pid, forget := s.ptys.add(call.Sandbox.ID, sess)
	defer forget()
	k.start(pid)
	code, err := term.Run(writerFunc(func(b []byte) (int, error) {
		k.data(&pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Pty{Pty: append([]byte(nil), b...)}})
		return len(b), nil
	}))
	switch {
	case sess.killed():
		code, err = 128+9, nil
	case err != nil && ctx.Err() == nil:
		err = fmt.Errorf("the terminal of process %d ended without an exit status: %v", pid, err)
	}
	if err != nil {
		k.close()
		return err
	}
	k.end(code)
	return k.close()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
