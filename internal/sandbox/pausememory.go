package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// PauseMemory is what a pause does with the sandbox's memory: keep it
// resident (a freeze: milliseconds both ways) or release it (a checkpoint
// to disk: the RAM is freed, and the sandbox survives a restart of the
// server or of the host).
type PauseMemory string

// The pause memory modes.
const (
	PauseKeep    PauseMemory = "keep"
	PauseRelease PauseMemory = "release"
)

// MemoryTier says where a paused sandbox's memory is.
type MemoryTier string

// The memory tiers of a paused sandbox.
const (
	MemoryResident MemoryTier = "resident"
	MemoryOnDisk   MemoryTier = "on-disk"
)

// PauseInfo is the memory of a paused sandbox: where it is, since when,
// how large its image on disk is, and when the reconciler moves it to
// disk (tiered pause).
type PauseInfo struct {
	Memory    MemoryTier
	Since     time.Time
	SizeBytes int64      // the image on disk; 0 while resident
	ReleaseAt *time.Time // nil: stays resident until resumed
}

// CauseTieredPause is the cause of the reconciler's moves to disk.
const CauseTieredPause = "tiered-pause"

// EventMemory is the event type of each move of a paused sandbox's
// memory (to disk, back, or a move that failed); not announced.
const EventMemory = "memory"

// ActionRelease moves a paused sandbox's memory to disk. It is not a
// verb of its own on the API: a pause with memory "release" of a sandbox
// paused in memory takes it, and so does the tiered pause.
const ActionRelease Action = "release"

// maxPauseReleaseAfter bounds pauseReleaseAfterSeconds (a year).
const maxPauseReleaseAfter = 365 * 24 * 3600

func (m PauseMemory) validate(field string) error {
	if m != "" && m != PauseKeep && m != PauseRelease {
		return errdefs.InvalidField(field, "must be %q or %q, got %q", PauseKeep, PauseRelease, m)
	}
	return nil
}

func validatePauseReleaseAfter(field string, v *int64) error {
	if v != nil && (*v < 0 || *v > maxPauseReleaseAfter) {
		return errdefs.InvalidField(field, "must be between 0 (never) and %d seconds", maxPauseReleaseAfter)
	}
	return nil
}

// validatePause checks the server's pause defaults.
func (c Config) validatePause() error {
	if err := c.DefaultPauseMemory.validate("defaultPauseMemory"); err != nil {
		return err
	}
	if c.DefaultPauseReleaseAfter < 0 {
		return fmt.Errorf("pause release delay must not be negative")
	}
	return nil
}

// pauseMemory resolves a pause's memory mode: the request's, else the
// organisation's default, else the server's, else keep.
func (s *Service) pauseMemory(ctx context.Context, sb *Sandbox, asked PauseMemory) (PauseMemory, error) {
	if err := asked.validate("memory"); err != nil {
		return "", err
	}
	if asked != "" {
		return asked, nil
	}
	o, err := s.store.GetOrgSettings(ctx, sb.OrganizationID)
	if err != nil {
		return "", err
	}
	switch {
	case o.PauseMemory != nil:
		return *o.PauseMemory, nil
	case s.cfg.DefaultPauseMemory != "":
		return s.cfg.DefaultPauseMemory, nil
	}
	return PauseKeep, nil
}

// pauseMemoryFor is pauseMemory for a pause about to start: a release
// the client asked for on a runtime that cannot checkpoint is refused
// before anything changes, one that only a default asks for falls back
// to keep.
func (s *Service) pauseMemoryFor(ctx context.Context, sb *Sandbox, asked PauseMemory) (PauseMemory, error) {
	mem, err := s.pauseMemory(ctx, sb, asked)
	if err != nil || mem != PauseRelease {
		return mem, err
	}
	if _, err := s.checkpointerFor(sb); err != nil {
		if asked == PauseRelease {
			return "", err
		}
		return PauseKeep, nil
	}
	return mem, nil
}

// releaseAfter resolves how long sb may stay paused in memory before the
// reconciler moves it to disk: its own setting, else its organisation's,
// else the server's; 0 is never.
func (s *Service) releaseAfter(ctx context.Context, sb *Sandbox) time.Duration {
	if sb.PauseReleaseAfterSeconds != nil {
		return time.Duration(*sb.PauseReleaseAfterSeconds) * time.Second
	}
	if o, err := s.store.GetOrgSettings(ctx, sb.OrganizationID); err == nil && o.PauseReleaseAfterSeconds != nil {
		return time.Duration(*o.PauseReleaseAfterSeconds) * time.Second
	}
	return s.cfg.DefaultPauseReleaseAfter
}

// checkpointer returns the runtime's checkpointer, or an error that
// names why there is none: the client asked for something this server
// cannot do (a 400 on the memory field, never a 5xx).
func (s *Service) checkpointer() (runtime.Checkpointer, error) { return s.checkpointerOf(s.rt) }

// checkpointerFor is checkpointer for one sandbox: with more than one
// runtime, the one it runs on decides (the union may checkpoint where
// this sandbox's driver cannot).
func (s *Service) checkpointerFor(sb *Sandbox) (runtime.Checkpointer, error) {
	if m, ok := s.rt.(*runtime.Multi); ok {
		if d, ok := m.Driver(RuntimeOf(sb)); ok {
			if _, err := s.checkpointerOf(d); err != nil {
				return nil, err
			}
		}
	}
	return s.checkpointer()
}

func (s *Service) checkpointerOf(rt runtime.Runtime) (runtime.Checkpointer, error) {
	if cp, ok := runtime.AsCheckpointer(rt); ok {
		return cp, nil
	}
	why := runtime.MissingReason(rt, "Checkpoint")
	if why == "" {
		why = "the runtime has no checkpoint support"
	}
	return nil, errdefs.InvalidField("memory", "%q needs a runtime that can checkpoint sandboxes to disk; %s cannot: %s",
		PauseRelease, rt.Name(), why)
}

// pauseOp is the runtime half of a pause: freeze, then checkpoint when
// the memory is to be released. A checkpoint that fails leaves the
// sandbox paused in memory, with the reason in its events: a pause never
// loses a sandbox (one whose processes died under it settles in error).
func (s *Service) pauseOp(ctx context.Context, sb *Sandbox, mem PauseMemory, cause string) error {
	// A frozen agent cannot answer: calls in flight end now, before the
	// freeze, rather than hang until a resume that may never come.
	s.interruptAgentCalls(sb.ID)
	if err := s.rt.Pause(ctx, sb.ID); err != nil {
		return err
	}
	now := s.now().UTC()
	sb.Pause = &PauseInfo{Memory: MemoryResident, Since: now}
	if mem == PauseRelease {
		return s.releaseOp(ctx, sb, cause, true)
	}
	if after := s.releaseAfter(ctx, sb); after > 0 {
		at := now.Add(after)
		sb.Pause.ReleaseAt = &at
	}
	return nil
}

// releaseOp checkpoints a sandbox paused in memory. A failure is recorded
// as a memory event and the sandbox stays paused in memory; the tiered
// pause does not try again (ReleaseAt is cleared), a pause asked for by
// a client is answered with the error (strict) but still settles paused.
// A failure that ended the sandbox is an error either way.
func (s *Service) releaseOp(ctx context.Context, sb *Sandbox, cause string, strict bool) error {
	if sb.Pause == nil {
		sb.Pause = &PauseInfo{Memory: MemoryResident, Since: s.now().UTC()}
	}
	if sb.Pause.Memory == MemoryOnDisk {
		return nil
	}
	cp, err := s.checkpointer()
	if err == nil {
		start := time.Now()
		var size int64
		if size, err = cp.Checkpoint(ctx, sb.ID); err == nil {
			took := time.Since(start)
			sb.Pause = &PauseInfo{Memory: MemoryOnDisk, Since: s.now().UTC(), SizeBytes: size}
			s.memoryEvent(ctx, sb.ID, cause, fmt.Sprintf("memory moved to disk: %d bytes in %s", size, took.Round(time.Millisecond)))
			return nil
		}
		// A sandbox whose processes died under the checkpoint keeps no
		// memory: it settles as recovery finds it, with the runtime's
		// reason, not paused.
		if obs, rerr := s.rt.Recover(ctx, sb.ID); rerr == nil && obs.State == runtime.StateStopped {
			s.memoryEvent(ctx, sb.ID, cause, "checkpoint failed and the sandbox ended: "+err.Error())
			return fmt.Errorf("%s: %w", died(obs), err)
		}
	}
	sb.Pause.ReleaseAt = nil
	s.memoryEvent(ctx, sb.ID, cause, "memory stays resident: checkpoint failed: "+err.Error())
	if errors.Is(err, errdefs.ErrNotImplemented) {
		// This sandbox's driver cannot checkpoint (another driver of a
		// Multi can): the client asked for what is not there.
		err = errdefs.InvalidField("memory", "%q: %v", PauseRelease, err)
	}
	if strict {
		return &keptPaused{err: err}
	}
	return nil
}

// keptPaused is a release that failed with the sandbox still paused in
// memory: the action settles paused and its caller gets the error. A
// drain's, whose sandbox was thawed again, settles in (running).
type keptPaused struct {
	err error
	in  State // empty: the action's own target state
}

func (e *keptPaused) Error() string { return "memory stays resident: " + e.err.Error() }
func (e *keptPaused) Unwrap() error { return e.err }

// resumeOp is the runtime half of a resume: a sandbox on disk is
// restored first (a failure goes to error with the reason; its files
// stay, and start boots it fresh), then thawed.
func (s *Service) resumeOp(ctx context.Context, sb *Sandbox, cause string) error {
	if sb.Pause != nil && sb.Pause.Memory == MemoryOnDisk {
		cp, ok := runtime.AsCheckpointer(s.rt)
		if !ok {
			return fmt.Errorf("sandbox %s was paused to disk, and runtime %s cannot restore it: %s: %w",
				sb.ID, s.rt.Name(), runtime.MissingReason(s.rt, "Checkpoint"), errdefs.ErrUnavailable)
		}
		start := time.Now()
		if err := cp.Restore(ctx, sb.ID); err != nil {
			s.memoryEvent(ctx, sb.ID, cause, "restore from disk failed: "+err.Error())
			return err
		}
		s.memoryEvent(ctx, sb.ID, cause, fmt.Sprintf("memory restored from disk in %s", time.Since(start).Round(time.Millisecond)))
	}
	return s.rt.Resume(ctx, sb.ID)
}

func (s *Service) memoryEvent(ctx context.Context, id, cause, msg string) {
	ev := Event{SandboxID: id, Type: EventMemory, Cause: cause, Message: msg, Time: s.now().UTC()}
	if err := s.store.AppendEvent(ctx, ev); err != nil {
		s.log.Warn("record memory event", "sandbox", id, "err", err)
	}
}

// tieredPause moves sandboxes paused in memory to disk once their
// ReleaseAt has passed.
func (r *Reconciler) tieredPause(ctx context.Context, now time.Time) error {
	if _, ok := runtime.AsCheckpointer(r.s.rt); !ok {
		return nil
	}
	due, err := r.s.store.ListPauseReleaseDue(ctx, ExpiryQuery{States: []State{StatePaused}, Now: now, Limit: batch})
	if err != nil {
		return err
	}
	for _, sb := range due {
		if !releaseDue(sb, now) {
			continue
		}
		r.act(ctx, sb, ActionRelease, CauseTieredPause, releaseDue)
	}
	return nil
}

func releaseDue(sb *Sandbox, now time.Time) bool {
	p := sb.Pause
	return sb.State == StatePaused && p != nil && p.Memory == MemoryResident && p.ReleaseAt != nil && !p.ReleaseAt.After(now)
}

// settlePause keeps PauseInfo only on paused sandboxes (and on those
// passing through pausing or resuming), and on archived ones whose
// memory went into the archive, so that no other state shows one.
func settlePause(sb *Sandbox) {
	onDisk := sb.Pause != nil && sb.Pause.Memory == MemoryOnDisk
	if !slices.Contains([]State{StatePaused, StatePausing, StateResuming}, sb.State) &&
		!(onDisk && (sb.State == StateArchiving || sb.State == StateArchived)) {
		sb.Pause = nil
	}
}
