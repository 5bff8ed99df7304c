// Package fakeruntime is an in-memory runtime.Runtime for unit tests of the
// lifecycle and the API. It runs nothing; `hutch serve` never uses it.
package fakeruntime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Fake records the state of each sandbox and can be told to fail.
type Fake struct {
	mu     sync.Mutex
	states map[string]runtime.State
	fail   map[string]error // op name -> error returned once
	block  chan struct{}    // when set, Create waits on it
	Calls  []string
	cpu    map[string]time.Duration // cumulative CPU time, set by AddCPU
}

var _ runtime.Runtime = (*Fake)(nil)

// New returns an empty fake of a driver that can pause but not archive
// (NewArchiving returns one that can).
func New() *Fake {
	return &Fake{states: map[string]runtime.State{}, fail: map[string]error{}}
}

// FailNext makes the next call of op ("create", "pause", ...) return err.
func (f *Fake) FailNext(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = err
}

// BlockCreate makes Create wait until the returned function is called.
func (f *Fake) BlockCreate() (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	f.block = ch
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Set forces the observed state of a sandbox, as if something outside the
// server changed it (a crash, a kill).
func (f *Fake) Set(id string, st runtime.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == runtime.StateMissing {
		delete(f.states, id)
		return
	}
	f.states[id] = st
}

// State returns the observed state of a sandbox.
func (f *Fake) State(id string) runtime.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.states[id]; ok {
		return st
	}
	return runtime.StateMissing
}

func (f *Fake) Name() string { return "fake" }

func (f *Fake) Capabilities() runtime.Capabilities { return runtime.Capabilities{Pause: true} }

// AddCPU adds d to a sandbox's cumulative CPU time, as its processes
// working would.
func (f *Fake) AddCPU(id string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cpu == nil {
		f.cpu = map[string]time.Duration{}
	}
	f.cpu[id] += d
}

// record notes a call for tests that check the order of runtime calls.
func (f *Fake) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, call)
}

func (f *Fake) op(name, id string, from []runtime.State, to runtime.State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, name+" "+id)
	if err := f.fail[name]; err != nil {
		delete(f.fail, name)
		return err
	}
	cur, ok := f.states[id]
	if !ok {
		cur = runtime.StateMissing
	}
	for _, s := range from {
		if s == cur {
			if to == runtime.StateMissing {
				delete(f.states, id)
			} else {
				f.states[id] = to
			}
			return nil
		}
	}
	return fmt.Errorf("fake: %s of %s in state %s: %w", name, id, cur, errdefs.ErrConflict)
}

func (f *Fake) Create(ctx context.Context, spec runtime.Spec) error {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	return f.op("create", spec.ID, []runtime.State{runtime.StateMissing}, runtime.StateRunning)
}

func (f *Fake) Start(ctx context.Context, spec runtime.Spec) error {
	return f.op("start", spec.ID, []runtime.State{runtime.StateStopped}, runtime.StateRunning)
}

func (f *Fake) Pause(ctx context.Context, id string) error {
	return f.op("pause", id, []runtime.State{runtime.StateRunning}, runtime.StatePaused)
}

func (f *Fake) Resume(ctx context.Context, id string) error {
	return f.op("resume", id, []runtime.State{runtime.StatePaused}, runtime.StateRunning)
}

func (f *Fake) Stop(ctx context.Context, id string, grace time.Duration) error {
	return f.op("stop", id, []runtime.State{runtime.StateRunning, runtime.StatePaused, runtime.StateStopped}, runtime.StateStopped)
}

func (f *Fake) Delete(ctx context.Context, id string) error {
	all := []runtime.State{runtime.StateRunning, runtime.StatePaused, runtime.StateStopped, runtime.StateMissing}
	return f.op("delete", id, all, runtime.StateMissing)
}

func (f *Fake) Recover(ctx context.Context, id string) (runtime.Status, error) {
	st := f.State(id)
	if st == runtime.StateStopped {
		return runtime.Status{State: st, Reason: "exited with status 137"}, nil
	}
	return runtime.Status{State: st}, nil
}

func (f *Fake) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return runtime.Stats{CPUUsage: f.cpu[id]}, nil
}
