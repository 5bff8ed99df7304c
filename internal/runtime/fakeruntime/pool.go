package fakeruntime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Pooling is the fake of a driver that can prepare sandboxes ahead of
// demand: the same sandboxes as Fake, with Capabilities.Pool declared and
// runtime.Pooler implemented. A prepared sandbox is a running one under
// its pool id; Take moves it to the sandbox's id, as the real driver
// moves its processes, network and disk.
type Pooling struct {
	*Fake
	// PoolLimits, set before use, declares Capabilities.PoolLimits: the
	// fake then takes a prepared sandbox only into a spec with its CPU
	// and memory, as a driver whose limits are fixed at prepare.
	PoolLimits bool

	mu       sync.Mutex
	prepared map[string]runtime.PoolSpec
	taken    map[string]runtime.PoolSpec // sandbox id -> what it was taken from
}

var (
	_ runtime.Runtime = (*Pooling)(nil)
	_ runtime.Pooler  = (*Pooling)(nil)
)

// NewPooling returns an empty fake that can prepare sandboxes.
func NewPooling() *Pooling {
	return &Pooling{Fake: New(), prepared: map[string]runtime.PoolSpec{}, taken: map[string]runtime.PoolSpec{}}
}

// Capabilities implements runtime.Runtime: the fake's, Pool, and
// PoolLimits when set.
func (p *Pooling) Capabilities() runtime.Capabilities {
	c := p.Fake.Capabilities()
	c.Pool = true
	c.PoolLimits = p.PoolLimits
	return c
}

// Prepare implements runtime.Pooler: FailNext("prepare") makes it fail
// leaving nothing.
func (p *Pooling) Prepare(ctx context.Context, ps runtime.PoolSpec) error {
	if err := p.op("prepare", ps.ID, []runtime.State{runtime.StateMissing}, runtime.StateRunning); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prepared[ps.ID] = ps
	return nil
}

// Take implements runtime.Pooler. FailNext("take") makes it fail; a
// failed take, like the real driver's, leaves neither the prepared
// sandbox nor spec.ID.
func (p *Pooling) Take(ctx context.Context, ps runtime.PoolSpec, spec runtime.Spec) error {
	p.mu.Lock()
	got, ok := p.prepared[ps.ID]
	delete(p.prepared, ps.ID)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("fake: take of %s: no such prepared sandbox: %w", ps.ID, errdefs.ErrNotFound)
	}
	p.Fake.mu.Lock()
	defer p.Fake.mu.Unlock()
	p.Fake.Calls = append(p.Fake.Calls, "take "+ps.ID+" "+spec.ID)
	st := p.Fake.states[ps.ID]
	delete(p.Fake.states, ps.ID)
	if err := p.Fake.fail["take"]; err != nil {
		delete(p.Fake.fail, "take")
		return err
	}
	if got.Image != spec.Image || got.DiskMB != spec.DiskMB {
		return fmt.Errorf("fake: take of %s (%s, %d MB) for %s (%s, %d MB): %w", ps.ID, got.Image, got.DiskMB, spec.ID, spec.Image, spec.DiskMB, errdefs.ErrInvalidArgument)
	}
	if p.PoolLimits && (got.CPU != spec.CPU || got.MemoryMB != spec.MemoryMB) {
		return fmt.Errorf("fake: take of %s (cpu %v, %d MB) for %s (cpu %v, %d MB): %w", ps.ID, got.CPU, got.MemoryMB,
			spec.ID, spec.CPU, spec.MemoryMB, errdefs.ErrInvalidArgument)
	}
	if _, ok := p.Fake.states[spec.ID]; ok {
		return fmt.Errorf("fake: take into %s, which exists: %w", spec.ID, errdefs.ErrConflict)
	}
	p.Fake.states[spec.ID] = st
	p.mu.Lock()
	p.taken[spec.ID] = got
	p.mu.Unlock()
	return nil
}

// DropPrepared implements runtime.Pooler.
func (p *Pooling) DropPrepared(ctx context.Context, ps runtime.PoolSpec) error {
	if err := p.op("drop", ps.ID, []runtime.State{runtime.StateRunning, runtime.StateMissing}, runtime.StateMissing); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.prepared, ps.ID)
	return nil
}

// Prepared implements runtime.Pooler, sorted by id; like a single real
// driver, it leaves Runtime empty.
func (p *Pooling) Prepared(ctx context.Context) ([]runtime.PoolSpec, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]runtime.PoolSpec, 0, len(p.prepared))
	for _, ps := range p.prepared {
		ps.Runtime = ""
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b runtime.PoolSpec) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// TakenFrom reports the prepared sandbox sandbox id was taken from.
func (p *Pooling) TakenFrom(id string) (runtime.PoolSpec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, ok := p.taken[id]
	return ps, ok
}

// CallsSoFar returns a copy of Calls, safe to read while the pool's
// filler calls the fake.
func (p *Pooling) CallsSoFar() []string {
	p.Fake.mu.Lock()
	defer p.Fake.mu.Unlock()
	return slices.Clone(p.Fake.Calls)
}
