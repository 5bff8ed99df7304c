package sandbox

import (
	"context"
	"errors"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Watch settles, until ctx ends, every sandbox whose processes the runtime
// reports ended on their own (the OOM killer, a kill from outside, its
// command done): through the recovery table, as a restart would, so a
// running sandbox whose init died is error with the runtime's reason (exit
// status, OOM kill) within moments instead of answering 503 until the
// next restart. The server starts it once Recover is done; it returns at
// once when the runtime cannot watch.
func (s *Service) Watch(ctx context.Context) {
	w, ok := runtime.AsWatcher(s.rt)
	if !ok {
		return
	}
	for e := range w.Watch(ctx) {
		if ctx.Err() != nil {
			return // shutting down: Close may be waiting already
		}
		s.work.Add(1)
		go func() {
			defer s.work.Done()
			if err := s.settleEnded(ctx, e.ID); err != nil {
				s.log.Error("settle a sandbox whose processes ended", "sandbox", e.ID, "err", err)
			}
		}()
	}
}

// settleEnded settles sandbox id after its processes ended. Only a live
// sandbox needs it: an action under way holds the lock and finds the end
// itself, and one that is stopped or gone has nothing left to end.
func (s *Service) settleEnded(ctx context.Context, id string) error {
	unlock, err := s.lock(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	sb, err := s.store.GetSandboxByID(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if sb.State != StateRunning && sb.State != StatePaused {
		return nil
	}
	if _, err := s.settleLocked(ctx, sb); err != nil {
		return err
	}
	s.log.Info("sandbox processes ended", "sandbox", id, "state", sb.State, "reason", sb.StateReason)
	return nil
}
