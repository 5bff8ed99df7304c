package e2b

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
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
	f *face
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
// closed at once, as envd gives it none. PTYs are not served yet.
func (s *processService) Start(ctx context.Context, req *connect.Request[pb.StartRequest], stream *connect.ServerStream[pb.StartResponse]) error {
	call, err := s.f.open(ctx, req.Header())
	if err != nil {
		return s.f.rpcError(ctx, err)
	}
	defer call.Close()
	ctx = call.Context()
	if req.Msg.Pty != nil {
		return connect.NewError(connect.CodeUnimplemented, errors.New("PTY processes are not supported by this server yet"))
	}
	cfg := req.Msg.GetProcess()
	if cfg.GetCmd() == "" {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("process.cmd is required"))
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
	send := func(ev *pb.ProcessEvent) error { return stream.Send(&pb.StartResponse{Event: ev}) }
	return s.f.rpcError(ctx, s.follow(ctx, call, p.PID, keepaliveOf(req.Header()), send))
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
	if _, err := call.Client.GetProcess(ctx, call.Sandbox.ID, pid); err != nil {
		return s.f.rpcError(ctx, err)
	}
	send := func(ev *pb.ProcessEvent) error { return stream.Send(&pb.ConnectResponse{Event: ev}) }
	return s.f.rpcError(ctx, s.follow(ctx, call, pid, keepaliveOf(req.Header()), send))
}

// follow sends start, the process's output and its end, with keepalives
// while it is quiet.
func (s *processService) follow(ctx context.Context, call *compat.AgentCall, pid int, every time.Duration, send func(*pb.ProcessEvent) error) error {
	var mu sync.Mutex
	var sendErr error
	emit := func(ev *pb.ProcessEvent) {
		mu.Lock()
		defer mu.Unlock()
		if sendErr == nil {
			sendErr = send(ev)
		}
	}
	emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_Start{Start: &pb.ProcessEvent_StartEvent{Pid: uint32(pid)}}})
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_Keepalive{Keepalive: &pb.ProcessEvent_KeepAlive{}}})
			case <-done:
				return
			}
		}
	}()
	out := func(streamName, data string) {
		d := &pb.ProcessEvent_DataEvent{}
		if streamName == "stderr" {
			d.Output = &pb.ProcessEvent_DataEvent_Stderr{Stderr: []byte(data)}
		} else {
			d.Output = &pb.ProcessEvent_DataEvent_Stdout{Stdout: []byte(data)}
		}
		emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_Data{Data: d}})
	}
	p, err := call.Client.ProcessLogs(ctx, call.Sandbox.ID, pid, true, out)
	if err == nil && p == nil {
		err = fmt.Errorf("the output of process %d ended before it did: %w", pid, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return err
	}
	end := &pb.ProcessEvent_EndEvent{Exited: true, Status: "exited"}
	if p.ExitCode != nil {
		end.ExitCode = int32(*p.ExitCode)
		end.Status = fmt.Sprintf("exit status %d", *p.ExitCode)
		if *p.ExitCode != 0 {
			end.Error = &end.Status
		}
	}
	emit(&pb.ProcessEvent{Event: &pb.ProcessEvent_End{End: end}})
	mu.Lock()
	defer mu.Unlock()
	return sendErr
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
	return connect.NewResponse(out), nil
}

// SendInput writes to a process's stdin.
func (s *processService) SendInput(ctx context.Context, req *connect.Request[pb.SendInputRequest]) (*connect.Response[pb.SendInputResponse], error) {
	err := s.withProcess(ctx, req.Header(), req.Msg.GetProcess(), func(ctx context.Context, call *compat.AgentCall, pid int) error {
		switch in := req.Msg.GetInput().GetInput().(type) {
		case *pb.ProcessInput_Stdin:
			return call.Client.WriteStdin(ctx, call.Sandbox.ID, pid, string(in.Stdin), false)
		case *pb.ProcessInput_Pty:
			return connect.NewError(connect.CodeUnimplemented, errors.New("PTY input is not supported by this server yet"))
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
			stdin, ok := ev.Data.GetInput().GetInput().(*pb.ProcessInput_Stdin)
			switch {
			case pid == 0:
				return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the first message must name the process"))
			case !ok:
				return nil, connect.NewError(connect.CodeUnimplemented, errors.New("PTY input is not supported by this server yet"))
			}
			if err := call.Client.WriteStdin(ctx, call.Sandbox.ID, pid, string(stdin.Stdin), false); err != nil {
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
		err := call.Client.WriteStdin(ctx, call.Sandbox.ID, pid, "", true)
		if client.IsConflict(err) {
			return nil // already closed
		}
		return err
	})
	return connect.NewResponse(&pb.CloseStdinResponse{}), err
}

// Update resizes a PTY; Hutch serves no PTY processes yet.
func (s *processService) Update(ctx context.Context, req *connect.Request[pb.UpdateRequest]) (*connect.Response[pb.UpdateResponse], error) {
	err := s.withProcess(ctx, req.Header(), req.Msg.GetProcess(), func(ctx context.Context, call *compat.AgentCall, pid int) error {
		if _, err := call.Client.GetProcess(ctx, call.Sandbox.ID, pid); err != nil {
			return err
		}
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("process %d has no PTY to resize", pid))
	})
	return connect.NewResponse(&pb.UpdateResponse{}), err
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
