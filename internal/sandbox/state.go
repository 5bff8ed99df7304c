package sandbox

import (
	"fmt"
	"slices"
)

// State is where a sandbox is in its lifecycle.
type State string

// The lifecycle states. Transitional states end in -ing and always settle
// into a stable state or into StateError.
const (
	StateCreating  State = "creating"
	StateRunning   State = "running"
	StatePausing   State = "pausing"
	StatePaused    State = "paused"
	StateResuming  State = "resuming"
	StateStopping  State = "stopping"
	StateStopped   State = "stopped"
	StateStarting  State = "starting"
	StateArchiving State = "archiving"
	StateArchived  State = "archived"
	StateDeleting  State = "deleting"
	StateDeleted   State = "deleted"
	StateError     State = "error"
)

// States lists every state, in lifecycle order.
var States = []State{
	StateCreating, StateRunning, StatePausing, StatePaused, StateResuming,
	StateStopping, StateStopped, StateStarting, StateArchiving, StateArchived,
	StateDeleting, StateDeleted, StateError,
}

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Transitional reports whether s is a state the sandbox passes through
// while work is under way.
func (s State) Transitional() bool {
	switch s {
	case StateCreating, StatePausing, StateResuming, StateStopping, StateStarting,
		StateArchiving, StateDeleting:
		return true
	}
	return false
}

// statesWhere lists, in lifecycle order, the states for which keep is
// true: the sets the store filters by are derived from the rules here
// rather than written out again.
func statesWhere(keep func(State) bool) []State {
	var out []State
	for _, s := range States {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// Action is a user-visible lifecycle verb.
type Action string

// The lifecycle actions.
const (
	ActionPause   Action = "pause"
	ActionResume  Action = "resume"
	ActionStop    Action = "stop"
	ActionStart   Action = "start"
	ActionArchive Action = "archive"
	ActionDelete  Action = "delete"
)

// Actions lists every action.
var Actions = []Action{ActionPause, ActionResume, ActionStop, ActionStart, ActionArchive, ActionDelete, ActionRelease}

// plan says, for one action, which transitional state it passes through and
// which stable state it settles in.
type plan struct {
	via, to State
}

var plans = map[Action]plan{
	ActionPause:   {StatePausing, StatePaused},
	ActionResume:  {StateResuming, StateRunning},
	ActionStop:    {StateStopping, StateStopped},
	ActionStart:   {StateStarting, StateRunning},
	ActionArchive: {StateArchiving, StateArchived},
	ActionDelete:  {StateDeleting, StateDeleted},
	// A release passes through pausing too: paused in memory, pausing
	// while the checkpoint runs, paused on disk.
	ActionRelease: {StatePausing, StatePaused},
}

// allowed is the one transition table: for each action, the states it may
// start from. An action whose target state is the current one is a no-op
// and is handled before the table is consulted, unless the table lets the
// action start from that state (a release starts and ends paused).
var allowed = map[Action][]State{
	ActionPause:   {StateRunning},
	ActionResume:  {StatePaused, StateArchived}, // archived: with its memory (archiveMemory)
	ActionStop:    {StateRunning, StatePaused, StateError},
	ActionStart:   {StateStopped, StateArchived, StateError},
	ActionArchive: {StateStopped, StatePaused}, // paused: on disk (archiveMemory)
	ActionRelease: {StatePaused},
	ActionDelete: {StateCreating, StateRunning, StatePausing, StatePaused, StateResuming,
		StateStopping, StateStopped, StateStarting, StateArchiving, StateArchived, StateError},
}

// TransitionError says an action is not legal from the current state.
type TransitionError struct {
	Action Action
	From   State
	// Why, when set, says what the state alone does not.
	Why string
}

func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("cannot %s a sandbox in state %s", e.Action, e.From)
	if e.Why != "" {
		msg += ": " + e.Why
	}
	return msg
}

// Transition returns the transitional and target states of action taken
// from state from. noop is true when the sandbox is already where the action
// leads (repeating an action is not an error); err is a *TransitionError
// when the action is illegal from this state.
func Transition(from State, action Action) (via, to State, noop bool, err error) {
	p, ok := plans[action]
	if !ok {
		return "", "", false, fmt.Errorf("unknown action %q", action)
	}
	if from == p.via || (from == p.to && !slices.Contains(allowed[action], from)) {
		return p.via, p.to, true, nil
	}
	for _, s := range allowed[action] {
		if s == from {
			return p.via, p.to, false, nil
		}
	}
	return "", "", false, &TransitionError{Action: action, From: from}
}
