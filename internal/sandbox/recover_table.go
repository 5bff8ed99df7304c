package sandbox

import (
	"context"

	"github.com/hutchdev/hutch/internal/runtime"
)

// outcome is where recovery settles a sandbox: the state, why (nil when
// the sandbox got where its record was heading), and the runtime work that
// takes it there (nil when the runtime already is there).
type outcome struct {
	to  State
	why reason
	op  recoverOp
}

// reason explains an outcome from what the runtime observed.
type reason func(obs runtime.Status) string

// said is a reason that needs nothing from the runtime.
func said(msg string) reason { return func(runtime.Status) string { return msg } }

// observed is a reason followed by the runtime's own, when it gives one
// (an exit status, an OOM kill).
func observed(msg string) reason {
	return func(obs runtime.Status) string {
		if obs.Reason != "" {
			return msg + ": " + obs.Reason
		}
		return msg
	}
}

// The reasons recovery gives.
var (
	died             = observed("the sandbox's processes are gone")
	gone             = observed("the runtime has no trace of the sandbox")
	startCut         = said("start was interrupted; start the sandbox again")
	archiveCut       = said("archive was interrupted; the sandbox stays stopped")
	archiveCutRan    = said("archive was interrupted and the sandbox was found running; it was stopped")
	archiveCutOnDisk = said("archive was interrupted; the sandbox stays paused on disk")
)

// recoverOp is runtime work recovery does to finish a transition, or to
// bring the runtime back to the state the record holds.
type recoverOp func(ctx context.Context, s *Service, sb *Sandbox) error

func opStop(ctx context.Context, s *Service, sb *Sandbox) error   { return s.rt.Stop(ctx, sb.ID, 0) }
func opPause(ctx context.Context, s *Service, sb *Sandbox) error  { return s.rt.Pause(ctx, sb.ID) }
func opResume(ctx context.Context, s *Service, sb *Sandbox) error { return s.rt.Resume(ctx, sb.ID) }

// opCreate finishes a create a crash cut short: whatever it left is
// removed and the create is done again from the record, which holds all
// the user asked for. There is no archive yet, and no user file: the
// sandbox never reached running.
func opCreate(ctx context.Context, s *Service, sb *Sandbox) error {
	if err := s.rt.Delete(ctx, sb.ID); err != nil {
		return err
	}
	_, err := s.createRuntime(ctx, sb, false)
	return err
}

// opDelete finishes a delete: the runtime's copy, then the archive.
func opDelete(ctx context.Context, s *Service, sb *Sandbox) error {
	if err := s.rt.Delete(ctx, sb.ID); err != nil {
		return err
	}
	return s.dropArchive(ctx, sb.ID)
}

// recovery is the one recovery table: for each stored state, where the
// sandbox settles given what the runtime observes. It follows four rules:
//
//   - A live sandbox (running or paused) is brought to the live state its
//     record holds or heads for, with a cheap runtime call: an interrupted
//     pause or resume is finished, one found in the other live state is
//     paused or resumed back.
//   - A sandbox whose processes ended or that the runtime no longer has,
//     where the record says it should be alive or has files, goes to error
//     with the reason; error keeps it from every timer but expiry, so that
//     nothing automatic touches what is left until a person looks.
//   - Create, stop and delete are finished whatever is found: a create is
//     done again from the record (nothing of the user's is lost, none was
//     there yet), and goes to error with the reason only when it fails
//     again. Start and archive are not redone: an interrupted start is an
//     error (as a failed start is), so that a half-restored disk is never
//     archived over the good archive; an interrupted archive leaves the
//     sandbox stopped, since both its files and any archive are kept.
//   - Archived, deleted and error records keep their state: the archive
//     holds an archived sandbox's files whatever the runtime has (one
//     found alive is stopped), a deleted record is never recovered
//     (ListAllSandboxes leaves it out), and error waits for a person.
var recovery = map[State]map[runtime.State]outcome{
	StateCreating: {
		runtime.StateRunning: {to: StateRunning},
		runtime.StatePaused:  {to: StateRunning, op: opResume},
		runtime.StateStopped: {to: StateRunning, op: opCreate},
		runtime.StateMissing: {to: StateRunning, op: opCreate},
	},
	StateRunning: {
		runtime.StateRunning: {to: StateRunning},
		runtime.StatePaused:  {to: StateRunning, op: opResume},
		runtime.StateStopped: {to: StateError, why: died},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StatePausing: {
		runtime.StateRunning: {to: StatePaused, op: opPause},
		runtime.StatePaused:  {to: StatePaused},
		runtime.StateStopped: {to: StateError, why: died},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StatePaused: {
		runtime.StateRunning: {to: StatePaused, op: opPause},
		runtime.StatePaused:  {to: StatePaused},
		runtime.StateStopped: {to: StateError, why: died},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StateResuming: {
		runtime.StateRunning: {to: StateRunning},
		runtime.StatePaused:  {to: StateRunning, op: opResume},
		runtime.StateStopped: {to: StateError, why: died},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StateStopping: {
		runtime.StateRunning: {to: StateStopped, op: opStop},
		runtime.StatePaused:  {to: StateStopped, op: opStop},
		runtime.StateStopped: {to: StateStopped},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StateStopped: {
		runtime.StateRunning: {to: StateStopped, op: opStop},
		runtime.StatePaused:  {to: StateStopped, op: opStop},
		runtime.StateStopped: {to: StateStopped},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StateStarting: {
		runtime.StateRunning: {to: StateRunning},
		runtime.StatePaused:  {to: StateRunning, op: opResume},
		runtime.StateStopped: {to: StateError, why: startCut},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StateArchiving: {
		runtime.StateRunning: {to: StateStopped, why: archiveCutRan, op: opStop},
		runtime.StatePaused:  {to: StateStopped, why: archiveCutRan, op: opStop},
		runtime.StateStopped: {to: StateStopped, why: archiveCut},
		runtime.StateMissing: {to: StateError, why: gone},
	},
	StateArchived: {
		runtime.StateRunning: {to: StateArchived, op: opStop},
		runtime.StatePaused:  {to: StateArchived, op: opStop},
		runtime.StateStopped: {to: StateArchived},
		runtime.StateMissing: {to: StateArchived},
	},
	StateDeleting: {
		runtime.StateRunning: {to: StateDeleted, op: opDelete},
		runtime.StatePaused:  {to: StateDeleted, op: opDelete},
		runtime.StateStopped: {to: StateDeleted, op: opDelete},
		runtime.StateMissing: {to: StateDeleted, op: opDelete},
	},
	StateDeleted: {
		runtime.StateRunning: {to: StateDeleted},
		runtime.StatePaused:  {to: StateDeleted},
		runtime.StateStopped: {to: StateDeleted},
		runtime.StateMissing: {to: StateDeleted},
	},
	StateError: {
		runtime.StateRunning: {to: StateError},
		runtime.StatePaused:  {to: StateError},
		runtime.StateStopped: {to: StateError},
		runtime.StateMissing: {to: StateError},
	},
}

// settleSandbox is settle, but for an archive of a sandbox paused on disk
// cut short before its working copy went: the runtime still has it whole
// on disk, and it stays paused there.
func settleSandbox(sb *Sandbox, obs runtime.State) (outcome, bool) {
	if sb.State == StateArchiving && obs == runtime.StatePaused && sb.Pause != nil && sb.Pause.Memory == MemoryOnDisk {
		return outcome{to: StatePaused, why: archiveCutOnDisk}, true
	}
	return settle(sb.State, obs)
}

// settle looks up where a sandbox stored in state belongs given what the
// runtime observed; ok is false for a pair the table does not know (a
// state added without its row, a driver reporting something new), which
// recovery leaves alone rather than guess.
func settle(state State, obs runtime.State) (outcome, bool) {
	out, ok := recovery[state][obs]
	return out, ok
}
