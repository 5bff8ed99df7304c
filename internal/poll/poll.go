// Package poll is what tests use to wait for something another goroutine
// or process makes true: a sandbox reaching a state, a counter moving, a
// delivery arriving. One deadline, generous so that a slow machine fails no
// test that would pass; the test names what it waits for.
package poll

import (
	"testing"
	"time"
)

// Timeout bounds every wait of Until.
const Timeout = time.Minute

// interval is the time between two calls of a condition.
const interval = 20 * time.Millisecond

// Until calls cond until it returns true, and fails t with "timed out
// waiting for <what>" once Timeout has passed.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Wait(Timeout, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Wait calls cond until it returns true or timeout passes, and reports
// whether it did; for a caller that says itself what was left undone.
func Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
