package sandbox

import (
	"context"
	"fmt"

	"github.com/hutchdev/hutch/internal/runtime"
)

// Recover runs once at start-up, before the API serves: it asks the runtime
// what it finds of every stored sandbox, finishes or rolls back transitions
// a crash interrupted, and reports sandboxes whose processes died as error.
// It returns how many sandboxes it changed.
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
	return changed, nil
}

func (s *Service) recoverOne(ctx context.Context, sb *Sandbox) (bool, error) {
	unlock, err := s.locks.lock(ctx, sb.ID)
	if err != nil {
		return false, err
	}
	defer unlock()
	return s.settleLocked(ctx, sb)
}

// settleLocked settles sb from what the runtime observes; the caller holds
// its lock.
func (s *Service) settleLocked(ctx context.Context, sb *Sandbox) (bool, error) {
	st, err := s.rt.Recover(ctx, sb.ID)
	if err != nil {
		return false, err
	}
	to, reason, op := settle(sb.State, sb.DesiredState, st)
	if op != nil {
		if err := op(ctx, s, sb); err != nil {
			to, reason = StateError, fmt.Sprintf("recovering from %s: %v", sb.State, err)
		}
	}
	if to == sb.State { // nothing to settle; keep the reason it already has
		return false, nil
	}
	from := sb.State
	now := s.now().UTC()
	sb.State, sb.StateReason, sb.UpdatedAt = to, reason, now
	if to != StateError {
		sb.DesiredState = to
	}
	ev := Event{Type: EventState, From: from, To: to, Cause: CauseReconcile, Message: reason, Time: now}
	return true, s.store.UpdateSandbox(ctx, sb, ev)
}

// recoverOp is runtime work recovery does to finish a transition.
type recoverOp func(ctx context.Context, s *Service, sb *Sandbox) error

// settle decides where a sandbox stored in state, heading for desired,
// belongs given what the runtime observed, and what runtime work (if any)
// finishes the way there.
func settle(state, desired State, obs runtime.Status) (State, string, recoverOp) {
	alive := obs.State == runtime.StateRunning || obs.State == runtime.StatePaused
	observed := StateRunning
	if obs.State == runtime.StatePaused {
		observed = StatePaused
	}
	died := func(what string) string {
		if obs.Reason != "" {
			return what + ": " + obs.Reason
		}
		return what
	}
	switch state {
	case StateDeleting:
		return StateDeleted, "", func(ctx context.Context, s *Service, sb *Sandbox) error {
			if err := s.rt.Delete(ctx, sb.ID); err != nil {
				return err
			}
			return s.dropArchive(ctx, sb.ID)
		}
	case StateStopping:
		return StateStopped, "", func(ctx context.Context, s *Service, sb *Sandbox) error {
			return s.rt.Stop(ctx, sb.ID, 0)
		}
	case StateCreating, StateStarting:
		if alive {
			return observed, "", nil
		}
		if state == StateCreating {
			return StateError, "the server stopped while the sandbox was being created", func(ctx context.Context, s *Service, sb *Sandbox) error {
				return s.rt.Delete(ctx, sb.ID)
			}
		}
		return StateStopped, "the server stopped while the sandbox was starting", nil
	case StateRunning, StatePaused, StatePausing, StateResuming:
		if alive {
			return observed, "", nil
		}
		return StateError, died("the sandbox's processes are gone"), nil
	case StateArchiving:
		return StateStopped, "the server stopped while the sandbox was being archived", nil
	case StateStopped, StateArchived:
		if alive { // a stopped sandbox found running: stop it as asked
			return state, "", func(ctx context.Context, s *Service, sb *Sandbox) error {
				return s.rt.Stop(ctx, sb.ID, 0)
			}
		}
	}
	return state, "", nil
}
