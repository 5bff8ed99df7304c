package sandbox

import (
	"context"
	"errors"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Filler timing: a prepare waits poolQuiet after the last create began or
// ended, so that it never competes with a burst of creates; a failure
// waits from poolBackoffMin doubling to poolBackoffMax; with nothing to
// do the filler looks again every poolRecheck (an image seeded or
// replaced meanwhile).
const (
	poolQuiet      = 100 * time.Millisecond
	poolBackoffMin = time.Second
	poolBackoffMax = time.Minute
	poolRecheck    = 30 * time.Second
)

// StartPools reconciles what a previous run left prepared and starts
// filling the pools in the background until ctx ends or Close. It does
// nothing when the runtime cannot prepare sandboxes.
func (s *Service) StartPools(ctx context.Context) {
	p := s.pool
	if p == nil || p.stop != nil {
		return
	}
	ctx, p.stop = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.run(ctx)
}

// closePools stops the filler and drops every member, letting their
// shared locks go.
func (s *Service) closePools() {
	p := s.pool
	if p == nil {
		return
	}
	if p.stop != nil {
		p.stop()
		<-p.done
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.drop(context.Background(), p.remove(func(poolKey) bool { return false }), "shutdown")
}

func (p *pool) run(ctx context.Context) {
	defer close(p.done)
	p.reconcile(ctx)
	var backoff time.Duration
	for {
		if !p.waitQuiet(ctx) {
			return
		}
		worked, err := p.fillOne(ctx)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			backoff = min(max(2*backoff, poolBackoffMin), poolBackoffMax)
			wait = backoff
			if errors.Is(err, errdefs.ErrNotFound) {
				// An image not there yet (seeding) or removed.
				p.s.log.Info("a pooled image is missing", "err", err, "retryIn", backoff)
				break
			}
			p.failures.Add(1)
			p.s.log.Warn("prepare a pooled sandbox", "err", err, "retryIn", backoff)
		case worked:
			backoff = 0
			continue
		default:
			wait = poolRecheck
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// waitQuiet returns once no create is in flight and none began or ended
// for poolQuiet; false when ctx ends first.
func (p *pool) waitQuiet(ctx context.Context) bool {
	for {
		p.mu.Lock()
		busy, wait := p.creating > 0, poolQuiet-time.Since(p.lastCreate)
		p.mu.Unlock()
		if !busy && wait <= 0 {
			return true
		}
		if busy {
			wait = poolRecheck // a create's end kicks
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-p.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// fillOne drops the members no pool wants any more (an image replaced,
// a size lowered) and prepares one member for the first pool short of
// its size; it reports whether it prepared one. Among replicas it first
// takes in what a replica gone left (adoptGone), so that it prepares only
// what those do not give. It holds the image gate for reading, so that an
// image removal waits for it and then finds the new member.
func (p *pool) fillOne(ctx context.Context) (bool, error) {
	s := p.s
	s.imageGate.RLock()
	defer s.imageGate.RUnlock()
	pools, want, err := s.wanted(ctx)
	if s.shared != nil {
		p.recheck(ctx)
		p.adoptGone(ctx, want)
	}
	p.drop(ctx, p.trim(want), "no longer configured")
	for _, w := range pools {
		if p.count(w.k) < w.upTo {
			return true, p.prepare(ctx, w.t)
		}
	}
	return false, err
}

// poolWant is one configured pool: its target, its key now, and how many
// members of that key the pools up to and with it want.
type poolWant struct {
	t    PoolSize
	k    poolKey
	upTo int
}

// wanted lists the configured pools of the runtimes that can prepare,
// and how many members each key wants in all; err tells of the pools
// whose image cannot be resolved now (left out).
func (s *Service) wanted(ctx context.Context) ([]poolWant, map[poolKey]int, error) {
	want := map[poolKey]int{}
	var out []poolWant
	var errs []error
	for _, t := range s.cfg.poolTargets() {
		if t.Size == 0 || !s.canPool(t.Runtime) {
			continue
		}
		k, err := s.poolKeyOf(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want[k] += t.Size
		out = append(out, poolWant{t: t, k: k, upTo: want[k]})
	}
	return out, want, errors.Join(errs...)
}

// trim takes out the members beyond what want keeps of each key.
func (p *pool) trim(want map[poolKey]int) []runtime.PoolSpec {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []runtime.PoolSpec
	for k, ms := range p.ready {
		if n := want[k]; len(ms) > n {
			out = append(out, ms[n:]...)
			p.ready[k] = ms[:n]
		}
	}
	return out
}

// prepare boots one member of t with the default resources: owned (its
// shared lock taken) before anything exists of it, so that no other
// replica adopts or drops it, then its image pinned under its pool id, so
// that the layers stay whatever happens to the name.
func (p *pool) prepare(ctx context.Context, t PoolSize) error {
	s := p.s
	k := s.defaultKey(t)
	id := ids.New(PoolIDPrefix)
	if err := p.own(ctx, id); err != nil {
		return err
	}
	if st := s.Images().cache; st != nil {
		img, err := st.In("").Pin(ctx, id, t.Image)
		if err != nil {
			p.disown(id)
			return err
		}
		k.Image = img.Digest
	}
	m := k.spec(id)
	opCtx, cancel := context.WithTimeout(ctx, s.cfg.Automation.TransitionTimeout)
	err := p.pl.Prepare(opCtx, m)
	cancel()
	if err != nil {
		s.releaseImages(context.WithoutCancel(ctx), m.ID)
		p.disown(m.ID)
		return err
	}
	if !p.add(k, m) {
		p.drop(context.WithoutCancel(ctx), []runtime.PoolSpec{m}, "shutdown")
	}
	return nil
}

// drop removes members that were never taken, with their image pins, and
// lets them go (those this replica no longer owns only that): a member whose drop failed is left to whoever takes its
// lock next (this replica's next pass among replicas, or a restart).
func (p *pool) drop(ctx context.Context, ms []runtime.PoolSpec, why string) {
	for _, m := range ms {
		if !p.confirmed(ctx, m) {
			continue // another replica's now, or gone
		}
		if err := p.pl.DropPrepared(ctx, m); err != nil {
			p.s.log.Warn("drop a pooled sandbox", "id", m.ID, "why", why, "err", err)
		} else {
			p.s.releaseImages(ctx, m.ID)
		}
		p.disown(m.ID)
	}
}

// dropPooledImage drops the members prepared on the image digest, which
// is being removed. The caller holds the image gate for writing, so no
// prepare is under way.
func (s *Service) dropPooledImage(ctx context.Context, digest string) {
	if s.pool == nil {
		return
	}
	s.pool.drop(ctx, s.pool.remove(func(k poolKey) bool { return k.Image != digest }), "image removed")
}

func (s *Service) defaultRuntime() string {
	if s.cfg.DefaultRuntime != "" {
		return s.cfg.DefaultRuntime
	}
	return RuntimeOCI
}
