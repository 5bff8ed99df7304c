package metrics

import (
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// actions names the action each transitional state belongs to.
var actions = map[sandbox.State]string{
	sandbox.StateCreating: "create", sandbox.StatePausing: "pause", sandbox.StateResuming: "resume",
	sandbox.StateStopping: "stop", sandbox.StateStarting: "start", sandbox.StateArchiving: "archive",
	sandbox.StateDeleting: "delete",
}

// pending is a transition begun and not yet settled.
type pending struct {
	action string
	since  time.Time
}

// ObserveSandbox follows the lifecycle's stored events (the service's
// bus calls it for every one): an event into a transitional state begins
// a transition, the event out of it settles the transition, and the time
// between the two events is its latency. Transitions not caused by a
// user count as the reconciler's.
func (m *Metrics) ObserveSandbox(n sandbox.Notice) {
	ev := n.Event
	if ev.Type != sandbox.EventState {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if action, ok := actions[ev.From]; ok && ev.From != ev.To {
		out := "ok"
		if ev.To == sandbox.StateError {
			out = "error"
		}
		m.transitions.WithLabelValues(action, out).Inc()
		if p, ok := m.pending[ev.SandboxID]; ok && p.action == action {
			m.transitionSeconds.WithLabelValues(action, out).Observe(ev.Time.Sub(p.since).Seconds())
		}
		delete(m.pending, ev.SandboxID)
	}
	if action, ok := actions[ev.To]; ok {
		m.pending[ev.SandboxID] = pending{action: action, since: ev.Time}
		if ev.Cause != "" && ev.Cause != sandbox.CauseUser {
			m.automatic.WithLabelValues(action, ev.Cause).Inc()
		}
	}
	if ev.To == sandbox.StateDeleted || ev.To == sandbox.StateError {
		delete(m.pending, ev.SandboxID)
	}
}

// ObserveReconcilerPass records one reconciler pass: how late the oldest
// due timer it found was (a gauge: the latest pass's), how long the pass
// took and how many actions it started.
func (m *Metrics) ObserveReconcilerPass(p sandbox.PassReport) {
	m.reconcilerLag.Set(p.Lag.Seconds())
	m.reconcilerPass.Observe(p.Duration.Seconds())
	m.reconcilerPassActions.Observe(float64(p.Actions))
}
