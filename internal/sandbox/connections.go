package sandbox

import (
	"context"
	"fmt"
	"sync"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// connections tracks the requests in flight to each sandbox through its
// agent or its ports. A terminal, a followed log or a WebSocket can stay
// open for hours with little traffic and little CPU; while any is open
// the sandbox is in use, and auto-stop must not end it under its user.
// Agent calls also carry a cancel function, so that a pause ends them at
// once instead of leaving them hanging on a frozen agent. The registry
// lives in memory: a server restart drops every connection anyway.
type connections struct {
	mu sync.Mutex
	n  map[string]map[*hold]struct{}
}

type hold struct {
	cancel context.CancelCauseFunc // nil for port traffic
}

func (s *Service) hold(id string, h *hold) (release func()) {
	c := &s.conns
	c.mu.Lock()
	if c.n == nil {
		c.n = make(map[string]map[*hold]struct{})
	}
	if c.n[id] == nil {
		c.n[id] = make(map[*hold]struct{})
	}
	c.n[id][h] = struct{}{}
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.n[id], h)
			if len(c.n[id]) == 0 {
				delete(c.n, id)
			}
			c.mu.Unlock()
		})
	}
}

// Hold records an open connection to sandbox id until release is called.
func (s *Service) Hold(id string) (release func()) {
	return s.hold(id, &hold{})
}

// HoldAgentCall records an agent call to sandbox id and returns the
// context to make it under: a pause of the sandbox cancels it with a cause
// that matches errdefs.ErrPaused.
func (s *Service) HoldAgentCall(ctx context.Context, id string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	release := s.hold(id, &hold{cancel: cancel})
	return ctx, func() {
		release()
		cancel(nil)
	}
}

// interruptAgentCalls ends the agent calls in flight to sandbox id.
func (s *Service) interruptAgentCalls(id string) {
	cause := fmt.Errorf("sandbox %s was paused while the call was under way: %w", id, errdefs.ErrPaused)
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	for h := range s.conns.n[id] {
		if h.cancel != nil {
			h.cancel(cause)
		}
	}
}

// held reports whether sandbox id has a connection open.
func (s *Service) held(id string) bool {
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	return len(s.conns.n[id]) > 0
}
