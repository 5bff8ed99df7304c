package sandbox

import (
	"slices"
	"testing"
	"time"
)

// TestStoreRuleSets pins the state sets the reconciler hands the store,
// written out here rather than derived, so that a new state has to be
// placed in each of them on purpose.
func TestStoreRuleSets(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want []State
	}{
		{"transitional", statesWhere(State.Transitional), []State{StateCreating, StatePausing, StateResuming,
			StateStopping, StateStarting, StateArchiving, StateDeleting}},
		{"expiry with paused", expiryStates(true), []State{StateCreating, StateRunning, StatePausing, StatePaused,
			StateResuming, StateStopping, StateStopped, StateStarting, StateArchiving, StateArchived, StateError}},
		{"expiry without paused", expiryStates(false), []State{StateCreating, StateRunning, StatePausing,
			StateResuming, StateStopping, StateStopped, StateStarting, StateArchiving, StateArchived, StateError}},
		{"auto-stop", autoStop.States, []State{StateRunning}},
		{"auto-pause", autoPause.States, []State{StateRunning}},
		{"auto-archive", autoArchive.States, []State{StateStopped}},
		{"auto-delete", autoDelete.States, []State{StateStopped, StateArchived}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s states = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestTimerDue checks each timer's setting, start time, least setting and
// deadline, with one interval minute lasting a second.
func TestTimerDue(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sb := func(st State, stop, archive, del int) *Sandbox {
		return &Sandbox{State: st, AutoStopMinutes: stop, AutoArchiveMinutes: archive, AutoDeleteMinutes: del,
			LastActivityAt: at.Add(-10 * time.Second), UpdatedAt: at.Add(-20 * time.Second)}
	}
	paused := func(sb *Sandbox, minutes int) *Sandbox { sb.AutoPauseMinutes = minutes; return sb }
	for _, c := range []struct {
		name  string
		timer Timer
		sb    *Sandbox
		want  bool
	}{
		{"auto-stop at its deadline from activity", autoStop, sb(StateRunning, 10, 0, -1), true},
		{"auto-stop before its deadline", autoStop, sb(StateRunning, 11, 0, -1), false},
		{"auto-stop off at 0", autoStop, sb(StateRunning, 0, 0, -1), false},
		{"auto-stop not when paused", autoStop, sb(StatePaused, 1, 0, -1), false},
		{"auto-pause at its deadline from activity", autoPause, paused(sb(StateRunning, 0, 0, -1), 10), true},
		{"auto-pause before its deadline", autoPause, paused(sb(StateRunning, 0, 0, -1), 11), false},
		{"auto-pause off at 0", autoPause, sb(StateRunning, 5, 0, -1), false},
		{"auto-pause not when paused", autoPause, paused(sb(StatePaused, 0, 0, -1), 1), false},
		{"auto-archive at its deadline from update", autoArchive, sb(StateStopped, 0, 20, -1), true},
		{"auto-archive before its deadline", autoArchive, sb(StateStopped, 0, 21, -1), false},
		{"auto-archive off at 0", autoArchive, sb(StateStopped, 0, 0, -1), false},
		{"auto-archive not when archived", autoArchive, sb(StateArchived, 0, 1, -1), false},
		{"auto-delete at 0 at once", autoDelete, sb(StateStopped, 0, 0, 0), true},
		{"auto-delete when archived", autoDelete, sb(StateArchived, 0, 0, 20), true},
		{"auto-delete before its deadline", autoDelete, sb(StateStopped, 0, 0, 21), false},
		{"auto-delete off at -1", autoDelete, sb(StateStopped, 0, 0, -1), false},
		{"auto-delete not in error", autoDelete, sb(StateError, 0, 0, 0), false},
	} {
		if got := c.timer.Due(c.sb, at, time.Second); got != c.want {
			t.Errorf("%s: Due = %v, want %v", c.name, got, c.want)
		}
	}
}
