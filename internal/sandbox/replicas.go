package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// SharedLocker extends the service's per-sandbox locks to every replica
// sharing its store: with one, a transition of a sandbox on one replica
// and any action on it on another take turns, as two actions in one
// process do. The service takes its in-process lock first, so a
// SharedLocker sees at most one holder per key in a process.
//
// A replica that dies loses its locks with it (PostgreSQL ends its
// session), which is how the leader's reconciler tells a transition whose
// owner is gone from one still under way: it can take the lock.
type SharedLocker interface {
	// Lock waits for key's lock; the returned function releases it.
	Lock(ctx context.Context, key string) (unlock func(), err error)
	// TryLock takes key's lock only if no replica holds it now.
	TryLock(ctx context.Context, key string) (unlock func(), ok bool, err error)
	// Holds reports whether this process still holds key's lock: a lock
	// lives only as long as the session that took it, and a session can
	// end under a live replica (a broken connection). Releasing a lock
	// whose session ended does nothing.
	Holds(ctx context.Context, key string) (bool, error)
}

// WithSharedLocker serialises each sandbox's transitions (and each
// organisation's quota check) across the replicas that share the store.
func WithSharedLocker(l SharedLocker) Option { return func(s *Service) { s.shared = l } }

// lock takes sandbox id's lock in this process, then across replicas.
func (s *Service) lock(ctx context.Context, id string) (func(), error) {
	return lockBoth(ctx, &s.locks, s.shared, id, id)
}

// tryLock takes sandbox id's lock only if no one holds it, here or on
// another replica.
func (s *Service) tryLock(ctx context.Context, id string) (func(), bool) {
	unlock, ok := s.locks.tryLock(id)
	if !ok || s.shared == nil {
		return unlock, ok
	}
	release, ok, err := s.shared.TryLock(ctx, id)
	if err != nil || !ok {
		if err != nil {
			s.log.Warn("try a sandbox's lock across replicas", "sandbox", id, "err", err)
		}
		unlock()
		return nil, false
	}
	return both(release, unlock), true
}

// lockQuota takes an organisation's quota lock in this process, then
// across replicas.
func (s *Service) lockQuota(ctx context.Context, orgID string) (func(), error) {
	return lockBoth(ctx, &s.quotaLocks, s.shared, orgID, "quota "+orgID)
}

func lockBoth(ctx context.Context, local *keyedLocks, shared SharedLocker, key, sharedKey string) (func(), error) {
	unlock, err := local.lock(ctx, key)
	if err != nil || shared == nil {
		return unlock, err
	}
	release, err := shared.Lock(ctx, sharedKey)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("lock %s across replicas: %w", key, err)
	}
	return both(release, unlock), nil
}

// both releases the shared lock, then the local one, once however often
// it is called.
func both(shared, local func()) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			shared()
			local()
		})
	}
}

// Remote takes in a change another replica made (the store tells of it):
// this replica's subscribers hear of it, and a pause there ends this
// replica's agent calls to the sandbox, as a pause here does, rather than
// leave them hanging on a frozen agent: while the sandbox is still
// pausing or paused (a notice read late from the log may tell of a pause
// a resume has undone since).
func (s *Service) Remote(n Notice) {
	if n.Event.Type == EventState && n.Event.To == StatePausing && (n.State == StatePausing || n.State == StatePaused) {
		s.interruptAgentCalls(n.Event.SandboxID)
	}
	s.bus.Deliver(n)
}

// TouchHeld records activity now on every sandbox with a connection open
// to this replica. The leader's idle timers see only the connections of
// their own replica (held); replicas call this about once a reconciler
// interval so that a terminal or a followed log open through any replica
// keeps its sandbox from auto-stop and auto-pause, as on a server alone.
func (s *Service) TouchHeld(ctx context.Context) error {
	s.conns.mu.Lock()
	ids := make([]string, 0, len(s.conns.n))
	for id := range s.conns.n {
		ids = append(ids, id)
	}
	s.conns.mu.Unlock()
	now := s.now().UTC()
	var errs []error
	for _, id := range ids {
		if err := s.store.TouchSandbox(ctx, id, now); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, fmt.Errorf("touch %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Deliver hands subscribers a notice of a change another replica made
// (the store tells of it). Observers are not called: they are this
// process's metrics, and the replica that made the change counts it.
func (b *Bus) Deliver(n Notice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fanOut(n)
}
