package sandbox

import (
	"context"
	"sync"
)

// keyedLocks serialises work on one sandbox while leaving others free. A
// lock is a one-slot channel so that a waiter can give up with its context
// and so that ownership can pass to a background goroutine.
type keyedLocks struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	ch   chan struct{}
	refs int
}

// lock waits for the key's lock and returns the function that releases it.
func (k *keyedLocks) lock(ctx context.Context, key string) (func(), error) {
	l := k.ref(key)
	select {
	case l.ch <- struct{}{}:
		return k.unlocker(key, l), nil
	case <-ctx.Done():
		k.release(key, l)
		return nil, ctx.Err()
	}
}

// tryLock takes the key's lock only if it is free at once, for the
// reconciler, which must never queue behind a transition under way.
func (k *keyedLocks) tryLock(key string) (func(), bool) {
	l := k.ref(key)
	select {
	case l.ch <- struct{}{}:
		return k.unlocker(key, l), true
	default:
		k.release(key, l)
		return nil, false
	}
}

// ref finds or makes the key's lock and counts one more user of it, so
// that it is not dropped from the map while someone waits on it.
func (k *keyedLocks) ref(key string) *keyedLock {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.locks == nil {
		k.locks = make(map[string]*keyedLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	return l
}

// unlocker releases a held lock once, however often it is called.
func (k *keyedLocks) unlocker(key string, l *keyedLock) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.ch
			k.release(key, l)
		})
	}
}

func (k *keyedLocks) release(key string, l *keyedLock) {
	k.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(k.locks, key)
	}
	k.mu.Unlock()
}
