package sandbox

import (
	"context"
	"fmt"
	"net"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// agentUse names the pseudo-action in the 409 for a sandbox whose agent
// cannot be used in its current state.
const agentUse Action = "use the agent of"

// AgentSession is one use of a sandbox's agent, opened by OpenAgent and
// ended by Close. While it is open the sandbox counts as in use (auto-stop
// spares it), and a pause of the sandbox cancels its Context with a cause
// that matches errdefs.ErrPaused, so that no call hangs on a frozen agent.
type AgentSession struct {
	Sandbox *Sandbox
	ctx     context.Context
	dialer  runtime.AgentDialer
	release func()
}

// Context is the context to make the session's calls under.
func (a *AgentSession) Context() context.Context { return a.ctx }

// Dial connects to the sandbox's agent. The connection may be pooled and
// reused by later sessions of the same sandbox.
func (a *AgentSession) Dial(ctx context.Context) (net.Conn, error) {
	return a.dialer.DialAgent(ctx, a.Sandbox.ID)
}

// Close ends the session.
func (a *AgentSession) Close() { a.release() }

// HasAgent reports whether this server's sandboxes run the agent, so that
// a transport serves its agent routes only then.
func (s *Service) HasAgent() bool {
	_, ok := runtime.AsAgentDialer(s.rt)
	return ok
}

// OpenAgent is the one door to a sandbox's agent, for every API face: the
// sandbox of orgID must be running (paused is errdefs.ErrPaused, any other
// state a *TransitionError), and the use is recorded as activity.
func (s *Service) OpenAgent(ctx context.Context, orgID, idOrName string) (*AgentSession, error) {
	sb, err := s.Get(ctx, orgID, idOrName)
	if err != nil {
		return nil, err
	}
	d, ok := runtime.AsAgentDialer(s.rt)
	if !ok {
		return nil, fmt.Errorf("this server's runtime has no in-sandbox agent: %w", errdefs.ErrNotImplemented)
	}
	switch sb.State {
	case StateRunning:
	case StatePaused, StatePausing:
		return nil, fmt.Errorf("sandbox %s is paused; resume it to use its agent: %w", sb.ID, errdefs.ErrPaused)
	default:
		return nil, &TransitionError{Action: agentUse, From: sb.State}
	}
	_ = s.Touch(ctx, sb) // activity is best effort; the call must not fail on it
	hctx, release := s.HoldAgentCall(ctx, sb.ID)
	return &AgentSession{Sandbox: sb, ctx: hctx, dialer: d, release: release}, nil
}

// DialPort connects to port on a sandbox's own loopback for the port
// proxy, which has checked the caller's access and made the sandbox ready
// (ProxyReady) first.
func (s *Service) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	nw, ok := runtime.AsPortDialer(s.rt)
	if !ok {
		return nil, fmt.Errorf("this server's runtime cannot reach sandbox ports: %w", errdefs.ErrNotImplemented)
	}
	if err := ValidatePort(port); err != nil {
		return nil, err
	}
	return nw.DialPort(ctx, id, port)
}

// Capabilities are the optional features of this server's runtime.
type Capabilities = runtime.Capabilities

// RuntimeInfo names the runtime and what it can do; ok is false when the
// server has none.
func (s *Service) RuntimeInfo() (name string, caps Capabilities, ok bool) {
	if s.rt == nil {
		return "", Capabilities{}, false
	}
	return s.rt.Name(), s.rt.Capabilities(), true
}

// SandboxID names the session's sandbox.
func (a *AgentSession) SandboxID() string { return a.Sandbox.ID }

// Stats is the resource use of a running or paused sandbox of orgID.
type Stats = runtime.Stats

// Stats reports what a sandbox of orgID uses now; a sandbox without
// processes is a *TransitionError.
func (s *Service) Stats(ctx context.Context, orgID, idOrName string) (*Sandbox, Stats, error) {
	sb, err := s.Get(ctx, orgID, idOrName)
	if err != nil {
		return nil, Stats{}, err
	}
	if err := s.requireRuntime(); err != nil {
		return nil, Stats{}, err
	}
	if sb.State != StateRunning && sb.State != StatePaused {
		return nil, Stats{}, &TransitionError{Action: "read the resource use of", From: sb.State}
	}
	st, err := s.rt.Stats(ctx, sb.ID)
	if err == nil && sb.Pause != nil && sb.Pause.Memory == MemoryOnDisk {
		// The memory image is kept beside the sandbox's disk, not on it;
		// it is the sandbox's disk use all the same.
		st.DiskBytes += sb.Pause.SizeBytes
	}
	return sb, st, err
}
