package sandbox

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The reconciler's timer rules. The store's lookups select by them and
// the re-check under the lock applies them again, so the two cannot
// disagree about which sandbox is due.
var (
	autoStop    = Timer{Kind: TimerAutoStop, States: []State{StateRunning}, MinMinutes: 1}
	autoPause   = Timer{Kind: TimerAutoPause, States: []State{StateRunning}, MinMinutes: 1}
	autoArchive = Timer{Kind: TimerAutoArchive, States: []State{StateStopped}, MinMinutes: 1}
	// An auto-delete of 0 minutes deletes as soon as the sandbox stops;
	// -1 means never.
	autoDelete = Timer{Kind: TimerAutoDelete, States: []State{StateStopped, StateArchived}, MinMinutes: 0}
)

// expiryStates are the states in which an expiry deletes a sandbox: every
// state but those of a delete already under way or done, and paused only
// when paused sandboxes expire.
func expiryStates(expirePaused bool) []State {
	return statesWhere(func(s State) bool {
		return s != StateDeleting && s != StateDeleted && (expirePaused || s != StatePaused)
	})
}

// expire deletes sandboxes whose expiresAt has passed (paused ones too
// unless Automation.ExpirePaused is off).
func (r *Reconciler) expire(ctx context.Context, now time.Time) error {
	due, err := r.s.store.ListExpired(ctx, ExpiryQuery{States: r.expiry, Now: now, Limit: batch})
	if err != nil {
		return err
	}
	for _, sb := range due {
		if !r.expired(sb, now) {
			continue
		}
		r.act(ctx, sb, ActionDelete, CauseExpiry, r.expired)
	}
	return nil
}

func (r *Reconciler) expired(sb *Sandbox, now time.Time) bool {
	return sb.ExpiresAt != nil && !sb.ExpiresAt.After(now) && slices.Contains(r.expiry, sb.State)
}

// stoppedTimer is a timer of a stopped sandbox and the action it fires.
type stoppedTimer struct {
	timer  Timer
	action Action
	cause  string
}

// stoppedTimers fires auto-delete (stopped or archived) and auto-archive
// (stopped); delete wins when both are due.
func (r *Reconciler) stoppedTimers(ctx context.Context, now time.Time) error {
	timers := []stoppedTimer{{autoDelete, ActionDelete, CauseAutoDelete}}
	if r.s.rt.Capabilities().Archive && r.s.archives != nil {
		timers = append(timers, stoppedTimer{autoArchive, ActionArchive, CauseAutoArchive})
	}
	seen := map[string]bool{}
	for i, st := range timers {
		earlier := timers[:i]
		guard := func(sb *Sandbox, now time.Time) bool {
			for _, e := range earlier {
				if e.timer.Due(sb, now, r.cfg.Minute) {
					return false
				}
			}
			return st.timer.Due(sb, now, r.cfg.Minute)
		}
		due, err := r.s.store.ListTimerDue(ctx, TimerQuery{Timer: st.timer, Now: now, Minute: r.cfg.Minute, Limit: batch})
		if err != nil {
			return err
		}
		for _, sb := range due {
			if seen[sb.ID] || !guard(sb, now) {
				continue
			}
			seen[sb.ID] = true
			r.act(ctx, sb, st.action, st.cause, guard)
		}
	}
	return nil
}

// idleTimer is a timer of a running sandbox that counts idle time, and
// the action it fires.
type idleTimer struct {
	timer  Timer
	action Action
	cause  string
}

// idleTimers samples the CPU time of every running sandbox with
// auto-stop or auto-pause, counts CPU use above Automation.IdleCPU as
// activity, and stops or pauses those idle for their autoStopMinutes or
// autoPauseMinutes: the shorter setting fires first (a paused sandbox is
// not running, so its auto-stop no longer counts). A sandbox is acted on
// only once two samples bracket an idle stretch, so after a restart the
// first pass only takes a reading: a busy sandbox is never stopped or
// paused for want of history.
func (r *Reconciler) idleTimers(ctx context.Context, now time.Time) error {
	timers := []idleTimer{{autoStop, ActionStop, CauseAutoStop}}
	if r.s.rt.Capabilities().Pause {
		timers = append(timers, idleTimer{autoPause, ActionPause, CauseAutoPause})
	}
	seen := map[string]bool{}
	var running []*Sandbox
	for _, it := range timers {
		on, err := r.s.store.ListTimerOn(ctx, it.timer, batch)
		if err != nil {
			return err
		}
		for _, sb := range on {
			if !seen[sb.ID] {
				seen[sb.ID] = true
				running = append(running, sb)
			}
		}
	}
	for _, sb := range running {
		measured, busy := r.sampleCPU(ctx, sb, now)
		if busy || r.s.held(sb.ID) { // working, or someone is connected to it
			if err := r.s.store.TouchSandbox(ctx, sb.ID, now); err != nil {
				r.s.log.Warn("record CPU activity", "sandbox", sb.ID, "err", err)
			}
			continue
		}
		if !measured {
			continue
		}
		if it, ok := r.firstIdle(timers, sb, now); ok {
			r.act(ctx, sb, it.action, it.cause, func(sb *Sandbox, now time.Time) bool {
				next, ok := r.firstIdle(timers, sb, now)
				return ok && next.cause == it.cause
			})
		}
	}
	r.mu.Lock()
	for id := range r.cpu {
		if !seen[id] {
			delete(r.cpu, id)
		}
	}
	r.mu.Unlock()
	return nil
}

// firstIdle returns the timer of timers due on sb at now with the
// shortest setting (the one that came due first), unless someone is
// connected to sb.
func (r *Reconciler) firstIdle(timers []idleTimer, sb *Sandbox, now time.Time) (idleTimer, bool) {
	var first idleTimer
	found := false
	for _, it := range timers {
		if !it.timer.Due(sb, now, r.cfg.Minute) {
			continue
		}
		if !found || it.timer.Kind.Minutes(sb) < first.timer.Kind.Minutes(sb) {
			first, found = it, true
		}
	}
	return first, found && !r.s.held(sb.ID)
}

// sampleCPU reads sb's CPU time and compares it with the previous
// reading: measured is false when there was none to compare with (or the
// counter went back, as after a restart of the sandbox).
func (r *Reconciler) sampleCPU(ctx context.Context, sb *Sandbox, now time.Time) (measured, busy bool) {
	st, err := r.s.rt.Stats(ctx, sb.ID)
	if err != nil {
		r.s.log.Debug("sample CPU", "sandbox", sb.ID, "err", err)
		return false, false
	}
	r.mu.Lock()
	prev, ok := r.cpu[sb.ID]
	r.cpu[sb.ID] = cpuSample{usage: st.CPUUsage, at: now}
	r.mu.Unlock()
	if !ok || st.CPUUsage < prev.usage || !now.After(prev.at) {
		return false, false
	}
	cores := float64(st.CPUUsage-prev.usage) / float64(now.Sub(prev.at))
	return true, cores > r.cfg.IdleCPU
}

// settleStale resolves sandboxes left in a transitional state with no
// work under way on them: the runtime says where each really is, as at
// start-up. One whose lock is held has work under way, bounded by
// Automation.TransitionTimeout, and is left to it.
//
// With locks shared across replicas, a lock that is free tells at once
// that the transition's owner is gone (a replica killed mid-transition
// lost its locks with its session), so such a sandbox is settled on the
// next pass rather than after StaleAfter.
func (r *Reconciler) settleStale(ctx context.Context, now time.Time) error {
	cutoff := now.Add(-r.cfg.StaleAfter)
	if r.s.shared != nil {
		cutoff = now.Add(r.cfg.Interval) // any age: the free lock says it
	}
	stale, err := r.s.store.ListStale(ctx, StaleQuery{States: r.transitional, Before: cutoff, Limit: batch})
	if err != nil {
		return err
	}
	for _, sb := range stale {
		id := sb.ID
		r.dispatch(ctx, id, "settle", func(ctx context.Context) error {
			unlock, ok := r.s.tryLock(ctx, id)
			if !ok {
				return errNotDue
			}
			defer unlock()
			fresh, err := r.s.store.GetSandboxByID(ctx, id)
			if err != nil {
				return err
			}
			if !fresh.State.Transitional() || !fresh.UpdatedAt.Before(cutoff) {
				return errNotDue
			}
			changed, err := r.s.settleLocked(ctx, fresh)
			if err != nil {
				return fmt.Errorf("settle %s from %s: %w", id, sb.State, err)
			}
			if !changed {
				return errNotDue
			}
			return nil
		})
	}
	return nil
}
