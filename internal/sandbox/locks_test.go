package sandbox

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestKeyedLocks(t *testing.T) {
	var k keyedLocks
	ctx := context.Background()
	unlock, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.tryLock("a"); ok {
		t.Fatal("tryLock took a held lock")
	}
	other, ok := k.tryLock("b")
	if !ok {
		t.Fatal("a lock on one key blocked another key")
	}
	other()

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := k.lock(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting with a cancelled context: %v", err)
	}
	unlock()
	unlock() // releasing twice is harmless
	again, ok := k.tryLock("a")
	if !ok {
		t.Fatal("lock not free after release")
	}
	again()

	// Many goroutines on one key: the critical section never overlaps.
	var wg sync.WaitGroup
	inside, max := 0, 0
	var mu sync.Mutex
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := k.lock(ctx, "c")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			max = maxInt(max, inside)
			mu.Unlock()
			mu.Lock()
			inside--
			mu.Unlock()
			u()
		}()
	}
	wg.Wait()
	if max != 1 {
		t.Fatalf("%d holders at once", max)
	}
	if n := len(k.locks); n != 0 {
		t.Fatalf("%d locks left in the map after every release", n)
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
