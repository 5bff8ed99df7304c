package sandbox

import (
	"context"
	"fmt"
	"time"
)

// expire deletes sandboxes whose expiresAt has passed (paused ones too
// unless Automation.ExpirePaused is off).
func (r *Reconciler) expire(ctx context.Context, now time.Time) error {
	due, err := r.s.store.ListExpired(ctx, now, batch)
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
	if sb.ExpiresAt == nil || sb.ExpiresAt.After(now) || sb.State == StateDeleting || sb.State == StateDeleted {
		return false
	}
	return r.cfg.ExpirePaused || sb.State != StatePaused
}

// stoppedTimers fires auto-delete (stopped or archived) and auto-archive
// (stopped); delete wins when both are due.
func (r *Reconciler) stoppedTimers(ctx context.Context, now time.Time) error {
	canArchive := r.s.rt.Capabilities().Archive && r.s.archives != nil
	due, err := r.s.store.ListStoppedDue(ctx, now, r.cfg.Minute, canArchive, batch)
	if err != nil {
		return err
	}
	for _, sb := range due {
		switch {
		case r.deleteDue(sb, now):
			r.act(ctx, sb, ActionDelete, CauseAutoDelete, r.deleteDue)
		case canArchive && r.archiveDue(sb, now):
			r.act(ctx, sb, ActionArchive, CauseAutoArchive, r.archiveDue)
		}
	}
	return nil
}

func (r *Reconciler) deleteDue(sb *Sandbox, now time.Time) bool {
	return (sb.State == StateStopped || sb.State == StateArchived) && sb.AutoDeleteMinutes >= 0 &&
		!now.Before(sb.UpdatedAt.Add(r.cfg.interval(sb.AutoDeleteMinutes)))
}

func (r *Reconciler) archiveDue(sb *Sandbox, now time.Time) bool {
	return sb.State == StateStopped && sb.AutoArchiveMinutes > 0 &&
		!now.Before(sb.UpdatedAt.Add(r.cfg.interval(sb.AutoArchiveMinutes)))
}

// autoStop samples the CPU time of every running sandbox with auto-stop,
// counts CPU use above Automation.IdleCPU as activity, and stops those
// idle for their autoStopMinutes. A sandbox is stopped only once two
// samples bracket an idle stretch, so after a restart the first pass only
// takes a reading: a busy sandbox is never stopped for want of history.
func (r *Reconciler) autoStop(ctx context.Context, now time.Time) error {
	running, err := r.s.store.ListAutoStop(ctx, batch)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(running))
	for _, sb := range running {
		seen[sb.ID] = true
		measured, busy := r.sampleCPU(ctx, sb, now)
		if busy || r.s.held(sb.ID) { // working, or someone is connected to it
			if err := r.s.store.TouchSandbox(ctx, sb.ID, now); err != nil {
				r.s.log.Warn("record CPU activity", "sandbox", sb.ID, "err", err)
			}
			continue
		}
		if measured && r.idle(sb, now) {
			r.act(ctx, sb, ActionStop, CauseAutoStop, r.idle)
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

func (r *Reconciler) idle(sb *Sandbox, now time.Time) bool {
	return sb.State == StateRunning && sb.AutoStopMinutes > 0 && !r.s.held(sb.ID) &&
		!now.Before(sb.LastActivityAt.Add(r.cfg.interval(sb.AutoStopMinutes)))
}

// settleStale resolves sandboxes left in a transitional state with no
// work under way on them: the runtime says where each really is, as at
// start-up. One whose lock is held has work under way, bounded by
// Automation.TransitionTimeout, and is left to it.
func (r *Reconciler) settleStale(ctx context.Context, now time.Time) error {
	cutoff := now.Add(-r.cfg.StaleAfter)
	stale, err := r.s.store.ListStale(ctx, cutoff, batch)
	if err != nil {
		return err
	}
	for _, sb := range stale {
		id := sb.ID
		r.dispatch(ctx, id, "settle", func(ctx context.Context) error {
			unlock, ok := r.s.locks.tryLock(id)
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
