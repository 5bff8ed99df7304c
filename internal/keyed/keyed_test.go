package keyed

import (
	"testing"
	"time"
)

func TestLockExcludesPerKey(t *testing.T) {
	var k Mutex
	unlockA := k.Lock("a")
	// Another key is free at once.
	k.Lock("b")()

	got := make(chan struct{})
	go func() {
		unlock := k.Lock("a")
		close(got)
		unlock()
	}()
	select {
	case <-got:
		t.Fatal("a second holder of key a got it while the first held it")
	case <-time.After(50 * time.Millisecond):
	}
	unlockA()
	<-got
	// Every entry is dropped once nobody holds or waits.
	deadline := time.Now().Add(5 * time.Second)
	for k.held() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys still kept after every holder left", k.held())
		}
		time.Sleep(time.Millisecond)
	}
}
