package poll

import (
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	calls := 0
	if !Wait(time.Minute, func() bool { calls++; return calls == 3 }) {
		t.Fatal("Wait gave up on a condition that came true")
	}
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3 (stop once it holds)", calls)
	}
	calls = 0
	if Wait(0, func() bool { calls++; return false }) {
		t.Fatal("Wait reported a condition that never held")
	}
	if calls == 0 {
		t.Fatal("Wait with no time left never asked")
	}
}

// TestUntilHolds returns as soon as cond holds, without calling it again.
func TestUntilHolds(t *testing.T) {
	n := 0
	Until(t, "n to reach 2", func() bool { n++; return n >= 2 })
	if n != 2 {
		t.Fatalf("n = %d", n)
	}
}
