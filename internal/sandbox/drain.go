package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// The causes of a drain's moves: the drain itself (an admin's, or a
// clean shutdown's), and the resume when the server comes back.
const (
	CauseDrain   = "drain"
	CauseRestart = "restart"
)

// DrainStatus is where a drain is: once one has begun the server refuses
// creates, starts and resumes, and checkpoints its running sandboxes one
// by one. A sandbox it moves to disk is paused with DesiredState
// running, and the next server resumes it; one it cannot move stays
// running (the reason is in its events and in LeftRunning).
type DrainStatus struct {
	Draining    bool // creates, starts and resumes are refused
	Started     *time.Time
	Finished    *time.Time // nil while a pass is under way
	Total       int        // running sandboxes the pass found
	Done        int        // of Total, those the pass has dealt with
	OnDisk      int
	LeftRunning []DrainLeft
}

// DrainLeft is a sandbox a drain left running, and why.
type DrainLeft struct {
	SandboxID string
	Reason    string
}

// drainState is the Service's drain: off until Drain or StartDrain; a
// pass at a time.
type drainState struct {
	mu     sync.Mutex
	status DrainStatus
	pass   sync.Mutex
}

func (d *drainState) update(f func(*DrainStatus)) DrainStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.status)
	out := d.status
	out.LeftRunning = append([]DrainLeft(nil), d.status.LeftRunning...)
	return out
}

// DrainStatus reports the drain.
func (s *Service) DrainStatus() DrainStatus { return s.drain.update(func(*DrainStatus) {}) }

// refuseWhileDraining refuses what would make a sandbox run on a server
// being drained.
func (s *Service) refuseWhileDraining(what string) error {
	if s.DrainStatus().Draining {
		return fmt.Errorf("this server is being drained and accepts no %s: %w", what, errdefs.ErrUnavailable)
	}
	return nil
}

// StartDrain begins a drain in the background (the admin's drain: the
// server keeps serving everything but creates, starts and resumes) and
// returns its status at once; GET it again for progress. A drain under
// way is not begun twice.
func (s *Service) StartDrain() DrainStatus {
	st := s.DrainStatus()
	if st.Draining && st.Finished == nil {
		return st
	}
	st = s.beginDrain()
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		s.Drain(context.Background(), time.Time{})
	}()
	return st
}

func (s *Service) beginDrain() DrainStatus {
	now := s.now().UTC()
	return s.drain.update(func(d *DrainStatus) {
		d.Draining = true
		if d.Started == nil {
			d.Started = &now
		}
		d.Finished = nil
	})
}

// Drain checkpoints every running sandbox that its runtime can
// checkpoint, one at a time, after it refuses new ones; it returns when
// all are dealt with. A deadline that is not zero is when it stops
// starting checkpoints: the sandboxes it has not reached are left
// running. Progress is logged after each sandbox.
func (s *Service) Drain(ctx context.Context, deadline time.Time) DrainStatus {
	s.drain.pass.Lock()
	defer s.drain.pass.Unlock()
	s.beginDrain()
	all, err := s.store.ListAllSandboxes(ctx)
	if err != nil {
		s.log.Error("drain: list sandboxes", "err", err)
	}
	var running []*Sandbox
	for _, sb := range all {
		if sb.State == StateRunning {
			running = append(running, sb)
		}
	}
	s.drain.update(func(d *DrainStatus) { d.Total, d.Done, d.OnDisk, d.LeftRunning = len(running), 0, 0, nil })
	s.log.Info("drain: checkpointing running sandboxes", "count", len(running))
	for _, sb := range running {
		onDisk, why := s.drainOne(ctx, sb, deadline)
		st := s.drain.update(func(d *DrainStatus) {
			d.Done++
			if onDisk {
				d.OnDisk++
			} else {
				d.LeftRunning = append(d.LeftRunning, DrainLeft{SandboxID: sb.ID, Reason: why})
			}
		})
		s.log.Info("drain: progress", "done", st.Done, "of", st.Total, "onDisk", st.OnDisk,
			"leftRunning", len(st.LeftRunning), "sandbox", sb.ID, "checkpointed", onDisk, "reason", why)
	}
	now := s.now().UTC()
	st := s.drain.update(func(d *DrainStatus) { d.Finished = &now })
	s.log.Info("drain: done", "onDisk", st.OnDisk, "leftRunning", len(st.LeftRunning))
	return st
}

// drainOne moves one running sandbox to disk, or says why it is left
// running; the reason is in the sandbox's events too.
func (s *Service) drainOne(ctx context.Context, sb *Sandbox, deadline time.Time) (bool, string) {
	why := ""
	if _, err := s.checkpointerFor(sb); err != nil {
		why = err.Error()
	} else if !deadline.IsZero() && !s.now().Before(deadline) {
		why = "the drain ran out of time before this sandbox"
	}
	if why != "" {
		s.memoryEvent(ctx, sb.ID, CauseDrain, "left running by the drain: "+why)
		return false, why
	}
	got, err := s.Act(ctx, sb.OrganizationID, sb.ID, ActionPause, ActOptions{Wait: true, Drain: true, Cause: CauseDrain})
	switch {
	case err != nil:
		return false, err.Error()
	case got.State == StatePaused && got.Pause != nil && got.Pause.Memory == MemoryOnDisk:
		return true, ""
	}
	return false, fmt.Sprintf("the sandbox is %s", got.State) // it moved on its own meanwhile
}

// drainOp is the runtime half of a drain's pause: freeze and checkpoint;
// a sandbox that cannot be checkpointed is thawed and settles running,
// with the reason in its events.
func (s *Service) drainOp(ctx context.Context, sb *Sandbox) error {
	err := s.pauseOp(ctx, sb, PauseRelease, CauseDrain)
	if err == nil {
		return nil
	}
	if rerr := s.rt.Resume(ctx, sb.ID); rerr != nil {
		return fmt.Errorf("%w; and thawing it again failed: %v", err, rerr)
	}
	var kept *keptPaused
	if errors.As(err, &kept) {
		err = kept.err
	}
	s.memoryEvent(ctx, sb.ID, CauseDrain, "left running by the drain: "+err.Error())
	return &keptPaused{err: err, in: StateRunning}
}

// resumeDrained resumes, after recovery, the sandboxes a drain moved to
// disk (paused on disk, desired running; a pause of a user's leaves the
// desired state paused): they were running when the server went
// down and their users expect them running again. A restore that fails
// leaves the sandbox in error with the reason, as a resume does.
func (s *Service) resumeDrained(ctx context.Context, all []*Sandbox) {
	var due []*Sandbox
	for _, sb := range all {
		if sb.State == StatePaused && sb.DesiredState == StateRunning && sb.Pause != nil && sb.Pause.Memory == MemoryOnDisk {
			due = append(due, sb)
		}
	}
	for i, sb := range due {
		_, err := s.Act(ctx, sb.OrganizationID, sb.ID, ActionResume, ActOptions{Wait: true, Cause: CauseRestart})
		s.log.Info("resumed a sandbox the drain paused", "sandbox", sb.ID, "done", i+1, "of", len(due), "err", err)
	}
}
