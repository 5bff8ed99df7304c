package sandbox

import (
	"errors"
	"testing"
)

// TestTransitionTable walks every (state, action) pair and checks it
// against the lifecycle described in DESIGN.md.
func TestTransitionTable(t *testing.T) {
	type outcome struct {
		via, to State
		noop    bool
	}
	legal := map[State]map[Action]outcome{
		StateCreating: {ActionDelete: {StateDeleting, StateDeleted, false}},
		StateRunning: {
			ActionPause:  {StatePausing, StatePaused, false},
			ActionResume: {StateResuming, StateRunning, true},
			ActionStop:   {StateStopping, StateStopped, false},
			ActionStart:  {StateStarting, StateRunning, true},
			ActionDelete: {StateDeleting, StateDeleted, false},
		},
		StatePausing: {
			ActionPause:   {StatePausing, StatePaused, true},
			ActionRelease: {StatePausing, StatePaused, true},
			ActionDelete:  {StateDeleting, StateDeleted, false},
		},
		StatePaused: {
			ActionPause:   {StatePausing, StatePaused, true},
			ActionRelease: {StatePausing, StatePaused, false},
			ActionResume:  {StateResuming, StateRunning, false},
			ActionStop:    {StateStopping, StateStopped, false},
			ActionArchive: {StateArchiving, StateArchived, false}, // on disk only
			ActionDelete:  {StateDeleting, StateDeleted, false},
		},
		StateResuming: {
			ActionResume: {StateResuming, StateRunning, true},
			ActionDelete: {StateDeleting, StateDeleted, false},
		},
		StateStopping: {
			ActionStop:   {StateStopping, StateStopped, true},
			ActionDelete: {StateDeleting, StateDeleted, false},
		},
		StateStopped: {
			ActionStop:    {StateStopping, StateStopped, true},
			ActionStart:   {StateStarting, StateRunning, false},
			ActionArchive: {StateArchiving, StateArchived, false},
			ActionDelete:  {StateDeleting, StateDeleted, false},
		},
		StateStarting: {
			ActionStart:  {StateStarting, StateRunning, true},
			ActionDelete: {StateDeleting, StateDeleted, false},
		},
		StateArchiving: {
			ActionArchive: {StateArchiving, StateArchived, true},
			ActionDelete:  {StateDeleting, StateDeleted, false},
		},
		StateArchived: {
			ActionArchive: {StateArchiving, StateArchived, true},
			ActionStart:   {StateStarting, StateRunning, false},
			ActionResume:  {StateResuming, StateRunning, false}, // with its memory only
			ActionDelete:  {StateDeleting, StateDeleted, false},
		},
		StateDeleting: {ActionDelete: {StateDeleting, StateDeleted, true}},
		StateDeleted:  {ActionDelete: {StateDeleting, StateDeleted, true}},
		StateError: {
			ActionStop:   {StateStopping, StateStopped, false},
			ActionStart:  {StateStarting, StateRunning, false},
			ActionDelete: {StateDeleting, StateDeleted, false},
		},
	}
	for _, from := range States {
		for _, a := range Actions {
			t.Run(string(from)+"/"+string(a), func(t *testing.T) {
				via, to, noop, err := Transition(from, a)
				want, ok := legal[from][a]
				if !ok {
					var te *TransitionError
					if !errors.As(err, &te) || te.From != from || te.Action != a {
						t.Fatalf("Transition(%s, %s) = %s, %s, %v, %v; want *TransitionError", from, a, via, to, noop, err)
					}
					return
				}
				if err != nil || via != want.via || to != want.to || noop != want.noop {
					t.Fatalf("Transition(%s, %s) = %s, %s, noop=%v, %v; want %s, %s, noop=%v", from, a, via, to, noop, err, want.via, want.to, want.noop)
				}
			})
		}
	}
}

func TestStatesValid(t *testing.T) {
	for _, s := range States {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if State("runnin").Valid() {
		t.Error("typo accepted as a state")
	}
}
