package sandbox

import (
	"context"
	"fmt"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// ActOptions tune one lifecycle action.
type ActOptions struct {
	// Wait returns only once the sandbox has settled.
	Wait bool
	// Force stops without the SIGTERM grace period.
	Force bool
	// Memory is what a pause does with the sandbox's memory; empty takes
	// the organisation's or the server's default. A pause that releases
	// the memory of a sandbox already paused in memory moves it to disk.
	Memory PauseMemory
	// Cause is recorded in the event log; empty means the user.
	Cause string
	// Drain makes a pause a drain's: the memory is released and the
	// sandbox stays desired running, so that the next server resumes it;
	// one that cannot be checkpointed is thawed and settles running.
	Drain bool
	// Guard, when set, checks the freshly read sandbox under its lock
	// before anything changes; its error aborts the action. The reconciler
	// uses it so that a timer that stopped being due is not applied.
	Guard func(sb *Sandbox) error
}

// Act applies a lifecycle action (pause, resume, stop, start, archive,
// delete) to a sandbox of orgID. Repeating an action whose target state the
// sandbox is already in returns it unchanged; an illegal action returns a
// *TransitionError.
func (s *Service) Act(ctx context.Context, orgID, idOrName string, action Action, o ActOptions) (*Sandbox, error) {
	sb, err := s.Get(ctx, orgID, idOrName)
	if err != nil {
		return nil, err
	}
	if err := s.requireRuntime(); err != nil {
		return nil, err
	}
	unlock, err := s.lock(ctx, sb.ID)
	if err != nil {
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	// Re-read under the lock: the state may have moved while we waited.
	if sb, err = s.store.GetSandboxByID(ctx, sb.ID); err != nil {
		return nil, err
	}
	if o.Guard != nil {
		if err := o.Guard(sb); err != nil {
			return nil, err
		}
	}
	if (action == ActionResume || action == ActionStart) && !o.Drain {
		if err := s.refuseWhileDraining(string(action) + "s"); err != nil {
			return nil, err
		}
	}
	if o.Drain {
		if action != ActionPause {
			return nil, fmt.Errorf("a drain pauses, it does not %s: %w", action, errdefs.ErrInvalidArgument)
		}
		if _, err := s.checkpointerFor(sb); err != nil {
			return nil, err
		}
		o.Memory = PauseRelease
	} else if action == ActionPause {
		if o.Memory, err = s.pauseMemoryFor(ctx, sb, o.Memory); err != nil {
			return nil, err
		}
		if o.Memory == PauseRelease && sb.State == StatePaused {
			action = ActionRelease
		}
	}
	if action == ActionRelease && sb.Pause != nil && sb.Pause.Memory == MemoryOnDisk {
		return sb, nil // on disk already
	}
	via, to, noop, err := Transition(sb.State, action)
	if err == nil {
		err = archiveMemory(sb, action)
	}
	if err != nil {
		return nil, explainRefusal(sb, err)
	}
	if noop {
		return sb, nil
	}
	if err := s.supports(action); err != nil {
		return nil, err
	}
	if o.Cause == "" {
		o.Cause = CauseUser
	}
	from := sb.State
	sb.State, sb.DesiredState, sb.StateReason = via, to, ""
	if o.Drain {
		sb.DesiredState = StateRunning // the next server resumes it
	}
	sb.UpdatedAt = s.now().UTC()
	sb.LastActivityAt = sb.UpdatedAt
	ev := Event{Type: EventState, From: from, To: via, Cause: o.Cause, Time: sb.UpdatedAt}
	if err := s.store.UpdateSandbox(ctx, sb, ev); err != nil {
		return nil, fmt.Errorf("store %s of %s: %w", action, sb.ID, err)
	}
	locked = false
	work := func(ctx context.Context) (*Sandbox, error) {
		defer unlock()
		return s.finish(ctx, sb, to, o.Cause, func(ctx context.Context) error {
			return s.runtimeOp(ctx, sb, from, action, o)
		})
	}
	return s.run(ctx, sb, o.Wait, work)
}

// supports refuses, before anything changes, an action the runtime
// declares it cannot do.
func (s *Service) supports(a Action) error {
	if err := s.requireRuntime(); err != nil {
		return err
	}
	caps := s.rt.Capabilities()
	switch {
	case a == ActionPause && !caps.Pause, a == ActionResume && !caps.Pause:
		return fmt.Errorf("runtime %s cannot pause sandboxes: %w", s.rt.Name(), errdefs.ErrNotImplemented)
	case a == ActionRelease:
		_, err := s.checkpointer()
		return err
	case a == ActionArchive && (!caps.Archive || s.archives == nil):
		return fmt.Errorf("runtime %s cannot archive sandboxes yet: %w", s.rt.Name(), errdefs.ErrNotImplemented)
	}
	return nil
}

// runtimeOp is the runtime half of each action.
func (s *Service) runtimeOp(ctx context.Context, sb *Sandbox, from State, a Action, o ActOptions) error {
	switch a {
	case ActionPause:
		if o.Drain {
			return s.drainOp(ctx, sb)
		}
		return s.pauseOp(ctx, sb, o.Memory, o.Cause)
	case ActionRelease:
		return s.releaseOp(ctx, sb, o.Cause, o.Cause == CauseUser)
	case ActionResume:
		if from == StateArchived {
			if err := s.restore(ctx, sb, o.Cause); err != nil {
				return err
			}
		}
		return s.resumeOp(ctx, sb, o.Cause)
	case ActionStop:
		grace := s.cfg.StopGrace
		if o.Force {
			grace = 0
		}
		return s.rt.Stop(ctx, sb.ID, grace)
	case ActionStart:
		if err := s.restore(ctx, sb, o.Cause); err != nil {
			return err
		}
		return s.rt.Start(ctx, specOf(sb))
	case ActionArchive:
		return s.pack(ctx, sb, o.Cause)
	case ActionDelete:
		if err := s.rt.Delete(ctx, sb.ID); err != nil {
			return err
		}
		s.releaseImages(ctx, sb.ID)
		return s.dropArchive(ctx, sb.ID)
	}
	return fmt.Errorf("action %s from %s: %w", a, from, errdefs.ErrNotImplemented)
}
