package sandbox

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Reconciler is the one loop that keeps sandboxes managing themselves: it
// fires expiry and the auto-stop, auto-archive and auto-delete timers,
// settles transitions that nothing is finishing, and purges deleted
// records after their retention. Every timer is computed from what the
// store holds (expiresAt, lastActivityAt, updatedAt), never from an
// in-memory timer, so a restarted server fires what came due while it was
// down on its first pass. Each action re-checks that it is still due on
// the freshly read sandbox under its lock, so nothing is applied twice.
type Reconciler struct {
	s   *Service
	cfg Automation
	// expiry and transitional are the state sets the store's lookups
	// filter by, derived once from the rules in timers.go and state.go.
	expiry       []State
	transitional []State

	mu       sync.Mutex
	inflight map[string]bool      // sandboxes with an action of ours under way
	cpu      map[string]cpuSample // last CPU reading of each auto-stop sandbox
	sem      chan struct{}        // bounds the actions run at once
	work     sync.WaitGroup

	lastPurge time.Time
	tally     passTally // of the pass under way (reconcile_report.go)
}

// cpuSample is one reading of a sandbox's cumulative CPU time.
type cpuSample struct {
	usage time.Duration
	at    time.Time
}

// batch bounds how many sandboxes one lookup returns per pass; what is
// left comes in the next pass.
const batch = 256

// maxParallel bounds the reconciler's concurrent actions, so that a burst
// of expiries after a long outage does not run hundreds of runtime
// commands at once on a small machine.
const maxParallel = 4

// NewReconciler returns the service's reconciler; Run drives it.
func (s *Service) NewReconciler() *Reconciler {
	return &Reconciler{
		s:            s,
		cfg:          s.cfg.Automation,
		expiry:       expiryStates(s.cfg.Automation.ExpirePaused),
		transitional: statesWhere(State.Transitional),
		inflight:     map[string]bool{},
		cpu:          map[string]cpuSample{},
		sem:          make(chan struct{}, maxParallel),
	}
}

// Run passes at once, then every Automation.Interval until ctx ends, and
// waits for the actions it started.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.Pass(ctx)
		select {
		case <-ctx.Done():
			r.Wait()
			return
		case <-t.C:
		}
	}
}

// Wait blocks until every action started by earlier passes has settled.
func (r *Reconciler) Wait() { r.work.Wait() }

// Pass looks once for due work and starts it; the actions run in the
// background (Wait waits for them). A lookup that fails is logged and
// retried on the next pass.
func (r *Reconciler) Pass(ctx context.Context) {
	if r.s.rt == nil {
		return
	}
	now := r.s.now().UTC()
	began := time.Now()
	defer func() { r.report(now, time.Since(began)) }()
	for _, step := range []struct {
		name string
		fn   func(context.Context, time.Time) error
	}{
		{"expiry", r.expire},
		{"stale transitions", r.settleStale},
		{"stopped timers", r.stoppedTimers},
		{"idle timers", r.idleTimers},
		{"tiered pause", r.tieredPause},
		{"purge", r.purge},
	} {
		if err := step.fn(ctx, now); err != nil && ctx.Err() == nil {
			r.s.log.Warn("reconcile", "step", step.name, "err", err)
		}
	}
}

// errNotDue aborts an action whose timer stopped being due between the
// lookup and the lock (a renewal, a touch, a user action).
var errNotDue = errors.New("no longer due")

// dispatch runs fn for sandbox id in the background unless an action of
// ours is already under way on it.
func (r *Reconciler) dispatch(ctx context.Context, id, what string, fn func(context.Context) error) {
	r.mu.Lock()
	if r.inflight[id] {
		r.mu.Unlock()
		return
	}
	r.inflight[id] = true
	r.tally.actions++
	r.mu.Unlock()
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		defer func() {
			r.mu.Lock()
			delete(r.inflight, id)
			r.mu.Unlock()
		}()
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-r.sem }()
		err := fn(ctx)
		var te *TransitionError
		switch {
		case err == nil:
			r.s.log.Info("reconciler acted", "sandbox", id, "action", what)
		case errors.Is(err, errNotDue), errors.As(err, &te):
			r.s.log.Debug("reconciler skipped", "sandbox", id, "action", what, "why", err)
		default:
			r.s.log.Warn("reconciler action failed", "sandbox", id, "action", what, "err", err)
		}
	}()
}

// act applies action with cause to sb once guard, checked on the fresh
// record under the lock, agrees that it is still due.
func (r *Reconciler) act(ctx context.Context, sb *Sandbox, action Action, cause string, guard func(*Sandbox, time.Time) bool) {
	r.noteDue(sb, cause)
	r.dispatch(ctx, sb.ID, cause, func(ctx context.Context) error {
		_, err := r.s.Act(ctx, sb.OrganizationID, sb.ID, action, ActOptions{
			Wait:  true,
			Cause: cause,
			Guard: func(fresh *Sandbox) error {
				if !guard(fresh, r.s.now().UTC()) {
					return errNotDue
				}
				return nil
			},
		})
		return err
	})
}

// purge removes deleted sandboxes past their retention, at most about
// ten times per retention period (and never more than once a pass).
func (r *Reconciler) purge(ctx context.Context, now time.Time) error {
	every := min(max(r.s.cfg.DeletedRetention/10, r.cfg.Interval), time.Minute)
	if now.Sub(r.lastPurge) < every {
		return nil
	}
	r.lastPurge = now
	n, err := r.s.store.PurgeDeleted(ctx, now.Add(-r.s.cfg.DeletedRetention))
	if n > 0 {
		r.s.log.Info("purged deleted sandboxes", "count", n)
	}
	return err
}
