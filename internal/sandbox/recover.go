package sandbox

import (
	"context"
	"fmt"
)

// Recover runs once at start-up: it asks the runtime what it finds of
// every stored sandbox, finishes or rolls back transitions a crash
// interrupted, and reports sandboxes whose processes died as error (the
// table in recover_table.go says how). It returns how many sandboxes it
// changed, in the store or in the runtime.
func (s *Service) Recover(ctx context.Context) (int, error) {
	if s.rt == nil {
		return 0, nil
	}
	all, err := s.store.ListAllSandboxes(ctx)
	if err != nil {
		return 0, fmt.Errorf("list sandboxes: %w", err)
	}
	changed := 0
	for _, sb := range all {
		ok, err := s.recoverOne(ctx, sb)
		if err != nil {
			s.log.Error("recover sandbox", "sandbox", sb.ID, "err", err)
			continue
		}
		if ok {
			changed++
		}
	}
	s.resumeDrained(ctx, all)
	return changed, nil
}

// recoverOne settles one sandbox under its lock. On replicas, a sandbox
// whose lock another replica holds is left to it: that replica is alive
// and settles its own transition, or dies and the leader settles it
// (settleStale); waiting for it would hold this replica's start behind a
// transition of up to TransitionTimeout.
func (s *Service) recoverOne(ctx context.Context, sb *Sandbox) (bool, error) {
	var unlock func()
	if s.shared != nil {
		var ok bool
		if unlock, ok = s.tryLock(ctx, sb.ID); !ok {
			return false, nil
		}
	} else {
		var err error
		if unlock, err = s.lock(ctx, sb.ID); err != nil {
			return false, err
		}
	}
	defer unlock()
	// Read again under the lock: another replica may have moved the
	// sandbox since the list, and settling from a stale record would undo
	// its transition (resume what it paused).
	fresh, err := s.store.GetSandboxByID(ctx, sb.ID)
	if err != nil {
		return false, err
	}
	if fresh.State == StateDeleted {
		return false, nil
	}
	return s.settleLocked(ctx, fresh)
}

// settleLocked settles sb from what the runtime observes, as the recovery
// table says; the caller holds its lock. changed reports whether the
// store or the runtime was changed.
func (s *Service) settleLocked(ctx context.Context, sb *Sandbox) (changed bool, err error) {
	obs, err := s.rt.Recover(ctx, sb.ID)
	if err != nil {
		return false, err
	}
	out, ok := settleSandbox(sb, obs.State)
	if !ok {
		return false, fmt.Errorf("no recovery rule for a sandbox stored %s and observed %s", sb.State, obs.State)
	}
	to, reason := out.to, ""
	if out.why != nil {
		reason = out.why(obs)
	}
	if out.op != nil {
		if err := out.op(ctx, s, sb); err != nil {
			to, reason = StateError, fmt.Sprintf("recovering from %s: %v", sb.State, err)
		}
	}
	if to == sb.State { // nothing to settle; keep the reason it already has
		return out.op != nil, nil
	}
	from := sb.State
	now := s.now().UTC()
	sb.State, sb.StateReason, sb.UpdatedAt = to, reason, now
	if to != StateError {
		sb.DesiredState = to
	}
	if to == StateRunning && (from == StateCreating || from == StateStarting) {
		sb.StartedAt = &now
	}
	ev := Event{Type: EventState, From: from, To: to, Cause: CauseReconcile, Message: reason, Time: now}
	return true, s.store.UpdateSandbox(ctx, sb, ev)
}
