package sandbox

import "context"

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
