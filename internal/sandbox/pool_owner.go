package sandbox

import (
	"context"

	"github.com/hutchdev/hutch/internal/runtime"
)

// Ownership of members among replicas (see pool.go): a member is this
// replica's while p.owned holds it, and on a SharedLocker that is exactly
// while this replica holds the member's shared lock. Without one, owning
// is only this process's bookkeeping.

// memberLockKey is the shared lock a member's owner holds.
func memberLockKey(id string) string { return "pool " + id }

// own takes member id's shared lock, waiting for it, and records it: for
// a member about to be prepared, whose id is new.
func (p *pool) own(ctx context.Context, id string) error {
	release := func() {}
	if sh := p.s.shared; sh != nil {
		var err error
		if release, err = sh.Lock(ctx, memberLockKey(id)); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.owned[id] = release
	p.mu.Unlock()
	return nil
}

// tryLock takes member id's shared lock only if no live replica holds it
// (without a SharedLocker, always), without recording it.
func (p *pool) tryLock(ctx context.Context, id string) (func(), bool) {
	sh := p.s.shared
	if sh == nil {
		return func() {}, true
	}
	release, ok, err := sh.TryLock(ctx, memberLockKey(id))
	if err != nil {
		p.s.log.Warn("try a pooled sandbox's lock across replicas", "id", id, "err", err)
		return nil, false
	}
	return release, ok
}

// tryOwn owns member id if no live replica does.
func (p *pool) tryOwn(ctx context.Context, id string) bool {
	release, ok := p.tryLock(ctx, id)
	if !ok {
		return false
	}
	p.mu.Lock()
	p.owned[id] = release
	p.mu.Unlock()
	return true
}

// owns says whether this replica owns member id. A pass tries no lock of
// a member it owns: PostgreSQL's locks are reentrant, so the try would
// succeed and the member seem free.
func (p *pool) owns(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.owned[id]
	return ok
}

// disown lets member id go, once it is taken or dropped (or a drop
// failed: whoever takes its lock next tries again).
func (p *pool) disown(id string) {
	p.mu.Lock()
	release := p.owned[id]
	delete(p.owned, id)
	p.mu.Unlock()
	if release != nil {
		release()
	}
}

// A member's lock lives as long as the session that took it, and a
// session can end under a live replica (a broken connection to
// PostgreSQL). From then on another replica may adopt the member, take
// it or drop it, so this replica confirms that it still owns a member
// before it takes or drops it, and on each pass among replicas.

// confirmed says whether this replica still owns member m, owning it
// again if its lock went with a session but can be taken anew and the
// driver still holds it. A member it does not own is let go.
func (p *pool) confirmed(ctx context.Context, m runtime.PoolSpec) bool {
	if p.s.shared == nil || p.holds(ctx, m.ID) {
		return true
	}
	return len(p.reown(ctx, []runtime.PoolSpec{m})) == 1
}

// holds says whether this replica's session still holds member id's
// lock; an error counts as no.
func (p *pool) holds(ctx context.Context, id string) bool {
	held, err := p.s.shared.Holds(ctx, memberLockKey(id))
	if err != nil {
		p.s.log.Warn("check a pooled sandbox's lock across replicas", "id", id, "err", err)
	}
	return held
}

// reown owns again those of ms whose lock this replica lost with its
// session, if no other replica took the lock meanwhile and the driver
// still holds them (another may have dropped one and let its lock go),
// and returns them; the others are let go.
func (p *pool) reown(ctx context.Context, ms []runtime.PoolSpec) []runtime.PoolSpec {
	var got []runtime.PoolSpec
	for _, m := range ms {
		p.disown(m.ID) // the release of a lock whose session ended does nothing
		if p.tryOwn(ctx, m.ID) {
			got = append(got, m)
		}
	}
	p.s.log.Warn("this replica's locks of pooled sandboxes ended with their session",
		"lost", len(ms), "ownedAgain", len(got))
	if len(got) == 0 {
		return nil
	}
	held, err := p.pl.Prepared(ctx)
	if err != nil {
		p.s.log.Warn("list the prepared sandboxes", "err", err)
		for _, m := range got {
			p.disown(m.ID)
		}
		return nil
	}
	return p.stillHeld(got, held)
}

// recheck confirms that this replica still owns its ready members, and
// takes out those it does not.
func (p *pool) recheck(ctx context.Context) {
	var lost []runtime.PoolSpec
	for _, m := range p.readyMembers() {
		if !p.holds(ctx, m.ID) {
			lost = append(lost, m)
		}
	}
	if len(lost) == 0 {
		return
	}
	ids := map[string]bool{}
	for _, m := range lost {
		ids[m.ID] = true
	}
	lost = p.removeIDs(ids) // a take may have had some meanwhile, and confirms its own
	for _, m := range p.reown(ctx, lost) {
		if !p.add(p.s.keyOf(m), m) {
			p.drop(ctx, []runtime.PoolSpec{m}, "shutdown")
		}
	}
}
