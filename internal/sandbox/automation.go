package sandbox

import (
	"fmt"
	"time"
)

// Causes of automatic transitions, recorded in the event log beside
// CauseUser, CauseExpiry and CauseReconcile.
const (
	CauseAutoStop    = "auto-stop"
	CauseAutoPause   = "auto-pause"
	CauseAutoArchive = "auto-archive"
	CauseAutoDelete  = "auto-delete"
)

// Automation configures the reconciler: how often it looks, how long an
// interval minute lasts, and the deadlines that keep a sandbox from
// staying in a transitional state forever.
type Automation struct {
	// Minute is how long one minute of autoStopMinutes,
	// autoArchiveMinutes and autoDeleteMinutes lasts. It is a minute in
	// production; tests shorten it to seconds.
	Minute time.Duration
	// Interval is the time between two passes of the reconciler.
	Interval time.Duration
	// ExpirePaused makes a paused sandbox expire like any other (the
	// default: an expiry is a promise about cost, and a paused sandbox
	// still holds memory). When false, a paused sandbox's expiry waits
	// until it is resumed.
	ExpirePaused bool
	// TransitionTimeout bounds the runtime work of one transition; work
	// that overruns fails and the sandbox goes to error with the reason.
	TransitionTimeout time.Duration
	// StaleAfter is how long a sandbox may sit in a transitional state
	// with no work under way on it (the write that settles it failed)
	// before the reconciler settles it from what the runtime observes.
	StaleAfter time.Duration
	// IdleCPU is the CPU use, in cores averaged over one pass, below which
	// a sandbox's processes do not count as activity. 0.02 is well above
	// an idle init and agent and far below any real work.
	IdleCPU float64
}

// DefaultAutomation returns the production settings.
func DefaultAutomation() Automation {
	return Automation{
		Minute:            time.Minute,
		Interval:          5 * time.Second,
		ExpirePaused:      true,
		TransitionTimeout: 10 * time.Minute,
		StaleAfter:        time.Minute,
		IdleCPU:           0.02,
	}
}

func (a Automation) validate() error {
	switch {
	case a.Minute <= 0:
		return fmt.Errorf("minute must be positive")
	case a.Interval <= 0:
		return fmt.Errorf("reconcile interval must be positive")
	case a.TransitionTimeout <= 0 || a.StaleAfter <= 0:
		return fmt.Errorf("transition timeout and stale deadline must be positive")
	case a.IdleCPU < 0:
		return fmt.Errorf("idle CPU must not be negative")
	}
	return nil
}
