package e2b

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	pb "github.com/hutchdev/hutch/internal/compat/e2b/envdpb/process"
	"github.com/hutchdev/hutch/internal/compat/e2b/envdpb/process/processconnect"
)

var _ processconnect.ProcessHandler = (*processService)(nil)

// processService is envd's process.Process over Hutch's agent: a command
// is one of the agent's background processes (so that it has a pid and
// outlives a dropped stream, as in envd), and its stream is the agent's
// log of it, followed to its end.
type processService struct {
	f    *face
	ptys *ptyTable
}

// keepaliveHeader is how often (seconds) the SDK asks for a keepalive
// event on a quiet stream, so that proxies do not cut it.
const keepaliveHeader = "Keepalive-Ping-Interval"

const defaultKeepalive = 50 * time.Second

func keepaliveOf(h http.Header) time.Duration {
	if n, err := strconv.Atoi(h.Get(keepaliveHeader)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return defaultKeepalive
}

// maxProcessTimeout is the longest life the agent gives a process.
const maxProcessTimeout = 86400

// processTimeout is how long a started process may live: as in envd, the
// stream's Connect-Timeout-Ms (the SDK's timeoutMs, 60 s unless set; none
// when 0) ends the process too, not only the stream.
func processTimeout(h http.Header) *int {
	ms, err := strconv.ParseInt(h.Get("Connect-Timeout-Ms"), 10, 64)
	if err != nil || ms <= 0 {
		return nil
	}
	secs := int(min((ms+999)/1000, maxProcessTimeout))
	return &secs
}

// Start runs a command: start{pid} first, then its output, then end with
// the exit code. Without stdin (what the SDK asks for) its stdin is
// closed at once, as envd gives it none. With a pty it runs on a
// terminal (startPty).
func (s *processService) Start(ctx context.Context, req *connect.Request[pb.StartRequest], stream *connect.ServerStream[pb.StartResponse]) error {
	call, err := s.f.open(ctx, req.Header())
	if err != nil {
		return s.f.rpcError(ctx, err)
	}
	defer call.Close()
	ctx = call.Context()
	cfg := req.Msg.GetProcess()
	if cfg.GetCmd() == "" {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("process.cmd is required"))
	}
	send := func(ev *pb.ProcessEvent) error { return stream.Send(&pb.StartResponse{Event: ev}) }
	if req.Msg.Pty != nil {
		return s.f.rpcError(ctx, s.startPty(ctx, call, req.Msg, newSink(send, keepaliveOf(req.Header()))))
	}
	ereq := api.ExecRequest{Command: append([]string{cfg.GetCmd()}, cfg.GetArgs()...), Cwd: cfg.GetCwd(),
		Env: cfg.GetEnvs(), User: userOf(req.Header()), TimeoutSeconds: processTimeout(req.Header())}
	p, err := call.Client.StartProcess(ctx, call.Sandbox.ID, ereq)
	if err != nil {
		return s.f.rpcError(ctx, err)
	}
	if req.Msg.Stdin != nil && !*req.Msg.Stdin {
		if err := call.Client.WriteStdin(ctx, call.Sandbox.ID, p.PID, "", true); err != nil && !client.IsConflict(err) {
			return s.f.rpcError(ctx, err)
		}
	}
	return s.f.rpcError(ctx, s.follow(ctx, call, p.PID, newSink(send, keepaliveOf(req.Header()))))
}

// Connect attaches to a running process: start{pid}, the output the
// agent kept so far and what follows, then end.
func (s *processService) Connect(ctx context.Context, req *connect.Request[pb.ConnectRequest], stream *connect.ServerStream[pb.ConnectResponse]) error {
	call, err := s.f.open(ctx, req.Header())
	if err != nil {
		return s.f.rpcError(ctx, err)
	}
	defer call.Close()
	ctx = call.Context()
	pid, err := s.pidOf(req.Msg.GetProcess())
	if err != nil {
		return err
	}
	if _, ok := s.ptys.get(call.Sandbox.ID, pid); ok {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("process %d is a PTY, whose output goes to the stream that started it only", pid))
	}
	if _, err := call.Client.GetProcess(ctx, call.Sandbox.ID, pid); err != nil {
		return s.f.rpcError(ctx, err)
	}
	send := func(ev *pb.ProcessEvent) error { return stream.Send(&pb.ConnectResponse{Event: ev}) }
	return s.f.rpcError(ctx, s.follow(ctx, call, pid, newSink(send, keepaliveOf(req.Header()))))
}

// List answers the processes that still run.
func (s *processService) List(ctx context.Context, req *connect.Request[pb.ListRequest]) (*connect.Response[pb.ListResponse], error) {
	call, err := s.f.open(ctx, req.Header())
	if err != nil {
		return nil, s.f.rpcError(ctx, err)
	}
	defer call.Close()
	ctx = call.Context()
	procs, err := call.Client.ListProcesses(ctx, call.Sandbox.ID)
	if err != nil {
		return nil, s.f.rpcError(ctx, err)
	}
	out := &pb.ListResponse{Processes: []*pb.ProcessInfo{}}
	for _, p := range procs {
		if p.State != "running" || len(p.Command) == 0 {
			continue
		}
		cwd := p.Cwd
		info := &pb.ProcessInfo{Pid: uint32(p.PID), Config: &pb.ProcessConfig{Cmd: p.Command[0], Args: p.Command[1:],
			Envs: map[string]string{}, Cwd: &cwd}}
		out.Processes = append(out.Processes, info)
	}
	for pid, sess := range s.ptys.list(call.Sandbox.ID) {
		cwd := sess.cwd
		out.Processes = append(out.Processes, &pb.ProcessInfo{Pid: pid, Config: &pb.ProcessConfig{Cmd: sess.argv[0],
			Args: sess.argv[1:], Envs: map[string]string{}, Cwd: &cwd}})
	}
	return connect.NewResponse(out), nil
}

// SendInput writes to a process's stdin.
func (s *processService) SendInput(ctx context.Context, req *connect.Request[pb.SendInputRequest]) (*connect.Response[pb.SendInputResponse], error) {
	err := s.withProcess(ctx, req.Header(), req.Msg.GetProcess(), func(ctx context.Context, call *compat.AgentCall, pid int) error {
		if sess, ok := s.ptys.get(call.Sandbox.ID, pid); ok {
			_, err := sess.term.Write(inputBytes(req.Msg.GetInput()))
			return err
		}
		switch in := req.Msg.GetInput().GetInput().(type) {
		case *pb.ProcessInput_Stdin:
			return call.Client.WriteStdin(ctx, call.Sandbox.ID, pid, string(in.Stdin), false)
		case *pb.ProcessInput_Pty:
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("process %d has no PTY", pid))
		}
		return connect.NewError(connect.CodeInvalidArgument, errors.New("input is required"))
	})
	return connect.NewResponse(&pb.SendInputResponse{}), err
}

// StreamInput takes a stream of input for one process (named by its first
// message).
func (s *processService) StreamInput(ctx context.Context, stream *connect.ClientStream[pb.StreamInputRequest]) (*connect.Response[pb.StreamInputResponse], error) {
	call, err := s.f.open(ctx, stream.RequestHeader())
	if err != nil {
		return nil, s.f.rpcError(ctx, err)
	}
	defer call.Close()
	ctx = call.Context()
	pid := 0
	for stream.Receive() {
		switch ev := stream.Msg().GetEvent().(type) {
		case *pb.StreamInputRequest_Start:
			if pid, err = s.pidOf(ev.Start.GetProcess()); err != nil {
				return nil, err
			}
		case *pb.StreamInputRequest_Data:
			if pid == 0 {
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the first message must name the process"))
			}
			data := inputBytes(ev.Data.GetInput())
			if sess, ok := s.ptys.get(call.Sandbox.ID, pid); ok {
				_, err = sess.term.Write(data)
			} else {
				err = call.Client.WriteStdin(ctx, call.Sandbox.ID, pid, string(data), false)
			}
			if err != nil {
				return nil, s.f.rpcError(ctx, err)
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, s.f.rpcError(ctx, err)
	}
	return connect.NewResponse(&pb.StreamInputResponse{}), nil
}

// SendSignal sends SIGTERM or SIGKILL to a process and what it started. A
// process that has ended is not found, as in envd (the SDK's kill() then
// answers false).
func (s *processService) SendSignal(ctx context.Context, req *connect.Request[pb.SendSignalRequest]) (*connect.Response[pb.SendSignalResponse], error) {
	var sig string
	switch req.Msg.GetSignal() {
	case pb.Signal_SIGNAL_SIGKILL:
		sig = "KILL"
	case pb.Signal_SIGNAL_SIGTERM:
		sig = "TERM"
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("signal %v is not SIGTERM or SIGKILL", req.Msg.GetSignal()))
	}
	err := s.withProcess(ctx, req.Header(), req.Msg.GetProcess(), func(ctx context.Context, call *compat.AgentCall, pid int) error {
		if sess, ok := s.ptys.get(call.Sandbox.ID, pid); ok {
			sess.kill()
			return nil
		}
		_, err := call.Client.SignalProcess(ctx, call.Sandbox.ID, pid, sig)
		if client.IsConflict(err) {
			return connect.NewError(connect.CodeNotFound, fmt.Errorf("process %d has already ended", pid))
		}
		return err
	})
	return connect.NewResponse(&pb.SendSignalResponse{}), err
}

// CloseStdin closes a process's stdin (EOF).
func (s *processService) CloseStdin(ctx context.Context, req *connect.Request[pb.CloseStdinRequest]) (*connect.Response[pb.CloseStdinResponse], error) {
	err := s.withProcess(ctx, req.Header(), req.Msg.GetProcess(), func(ctx context.Context, call *compat.AgentCall, pid int) error {
		if _, ok := s.ptys.get(call.Sandbox.ID, pid); ok {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("process %d is a PTY: send Ctrl-D (0x04) as input instead", pid))
		}
		err := call.Client.WriteStdin(ctx, call.Sandbox.ID, pid, "", true)
		if client.IsConflict(err) {
			return nil // already closed
		}
		return err
	})
	return connect.NewResponse(&pb.CloseStdinResponse{}), err
}

// Update resizes a PTY.
func (s *processService) Update(ctx context.Context, req *connect.Request[pb.UpdateRequest]) (*connect.Response[pb.UpdateResponse], error) {
	err := s.withProcess(ctx, req.Header(), req.Msg.GetProcess(), func(ctx context.Context, call *compat.AgentCall, pid int) error {
		sess, ok := s.ptys.get(call.Sandbox.ID, pid)
		if !ok {
			if _, err := call.Client.GetProcess(ctx, call.Sandbox.ID, pid); err != nil {
				return err
			}
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("process %d has no PTY to resize", pid))
		}
		size := req.Msg.GetPty().GetSize()
		if size == nil {
			return nil
		}
		return sess.term.Resize(int(size.GetCols()), int(size.GetRows()))
	})
	return connect.NewResponse(&pb.UpdateResponse{}), err
}

// inputBytes is the bytes of an input, for stdin or a PTY alike.
func inputBytes(in *pb.ProcessInput) []byte {
	if b := in.GetPty(); b != nil {
		return b
	}
	return in.GetStdin()
}

// withProcess runs fn with the agent open and the selected process's pid.
func (s *processService) withProcess(ctx context.Context, h http.Header, sel *pb.ProcessSelector, fn func(context.Context, *compat.AgentCall, int) error) error {
	call, err := s.f.open(ctx, h)
	if err != nil {
		return s.f.rpcError(ctx, err)
	}
	defer call.Close()
	pid, err := s.pidOf(sel)
	if err != nil {
		return err
	}
	return s.f.rpcError(call.Context(), fn(call.Context(), call, pid))
}

// pidOf is the pid a selector names. Tags (a start's optional name for
// its process, which the SDKs do not send) are not kept: Hutch's agent
// knows processes by pid only.
func (s *processService) pidOf(sel *pb.ProcessSelector) (int, error) {
	switch v := sel.GetSelector().(type) {
	case *pb.ProcessSelector_Pid:
		return int(v.Pid), nil
	case *pb.ProcessSelector_Tag:
		return 0, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("process tags (%q) are not supported by this server; select by pid", v.Tag))
	}
	return 0, connect.NewError(connect.CodeInvalidArgument, errors.New("process selector is required (pid or tag)"))
}
