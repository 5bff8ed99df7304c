package sandbox

import (
	"time"
)

// PassReport is what one reconciler pass found and did, for the server's
// metrics: how late it is, how long it took, how much it started.
type PassReport struct {
	// Duration is the pass's own time: its lookups and the dispatch of
	// its actions (not the actions, which run behind it).
	Duration time.Duration
	// Actions is how many actions the pass started; one already under
	// way on a sandbox is not started again.
	Actions int
	// Lag is how long the oldest timer the pass found due (expiry,
	// auto-stop, auto-archive, auto-delete, tiered pause) had been due;
	// 0 when none was. A reconciler that keeps up shows about one
	// interval at most; one that falls behind shows it grow.
	Lag time.Duration
}

// ObservePasses calls f after every reconciler pass of the service. f
// must be quick.
func (b *Bus) ObservePasses(f func(PassReport)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.passObservers = append(b.passObservers, f)
}

func (b *Bus) passed(rep PassReport) {
	b.mu.Lock()
	obs := b.passObservers
	b.mu.Unlock()
	for _, f := range obs {
		f(rep)
	}
}

// passTally is what the pass under way has found and started so far.
type passTally struct {
	actions int
	oldest  time.Time // the earliest due time seen; zero: none
}

// noteDue records that sb's timer for cause came due at the time dueAt
// derives, as the pass finds it.
func (r *Reconciler) noteDue(sb *Sandbox, cause string) {
	due := r.dueAt(sb, cause)
	if due.IsZero() {
		return
	}
	r.mu.Lock()
	if r.tally.oldest.IsZero() || due.Before(r.tally.oldest) {
		r.tally.oldest = due
	}
	r.mu.Unlock()
}

// dueAt is when sb's timer for cause came due; zero for an action that
// is no timer's.
func (r *Reconciler) dueAt(sb *Sandbox, cause string) time.Time {
	timer := func(t Timer) time.Time {
		return t.Kind.Since(sb).Add(time.Duration(t.Kind.Minutes(sb)) * r.cfg.Minute)
	}
	switch cause {
	case CauseExpiry:
		if sb.ExpiresAt != nil {
			return *sb.ExpiresAt
		}
	case CauseAutoStop:
		return timer(autoStop)
	case CauseAutoPause:
		return timer(autoPause)
	case CauseAutoArchive:
		return timer(autoArchive)
	case CauseAutoDelete:
		return timer(autoDelete)
	case CauseTieredPause:
		if sb.Pause != nil && sb.Pause.ReleaseAt != nil {
			return *sb.Pause.ReleaseAt
		}
	}
	return time.Time{}
}

// report ends the pass that began at now (on the service's clock) and
// took took, and tells the bus's pass observers.
func (r *Reconciler) report(now time.Time, took time.Duration) {
	r.mu.Lock()
	t := r.tally
	r.tally = passTally{}
	r.mu.Unlock()
	rep := PassReport{Duration: took, Actions: t.actions}
	if !t.oldest.IsZero() && now.After(t.oldest) {
		rep.Lag = now.Sub(t.oldest)
	}
	r.s.bus.passed(rep)
}
