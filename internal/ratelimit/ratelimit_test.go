package ratelimit

import (
	"net/http"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time           { return c.t }
func (c *clock) advance(d time.Duration)  { c.t = c.t.Add(d) }
func newAt(s Settings, c *clock) *Limiter { l := New(s); l.now = c.now; return l }
func limit(rate float64, burst int) Limit { return Limit{PerSecond: rate, Burst: burst} }

func TestBucketRefills(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newAt(Settings{Default: Pair{PerKey: limit(2, 4)}}, c)
	for i := 3; i >= 0; i-- {
		d := l.Take("org", "key")
		if !d.Allowed || d.Remaining != i || d.Limit != 4 || d.Scope != "key" {
			t.Fatalf("take %d: %+v", 4-i, d)
		}
	}
	d := l.Take("org", "key")
	if d.Allowed || d.RetryAfter != 500*time.Millisecond || d.Reset != 2*time.Second {
		t.Fatalf("empty bucket: %+v", d)
	}
	c.advance(500 * time.Millisecond)
	if d := l.Take("org", "key"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after one token's refill: %+v", d)
	}
	c.advance(time.Hour) // refills to the burst, not past it
	if d := l.Take("org", "key"); d.Remaining != 3 {
		t.Fatalf("after an hour: %+v", d)
	}
	if d := l.Take("org", "other"); d.Remaining != 3 {
		t.Fatalf("another key has its own bucket: %+v", d)
	}
}

// TestBothBucketsMustHaveAToken: a refused request spends neither, and
// the headers describe the bucket that refused.
func TestBothBucketsMustHaveAToken(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newAt(Settings{Default: Pair{PerKey: limit(1, 10), PerOrg: limit(1, 2)}}, c)
	l.Take("org", "a")
	l.Take("org", "b")
	d := l.Take("org", "a")
	if d.Allowed || d.Scope != "organization" || d.Limit != 2 {
		t.Fatalf("org bucket empty: %+v", d)
	}
	if d := l.Take("other", "c"); !d.Allowed {
		t.Fatalf("another organisation: %+v", d)
	}
	c.advance(time.Second)
	if d := l.Take("org", "a"); !d.Allowed || d.Scope != "organization" {
		t.Fatalf("after a refill: %+v", d)
	}
	// Both full again: the headers describe the emptier relative to its
	// size, the organisation's (1 of 2 left) rather than the key's (9 of 10).
	c.advance(10 * time.Second)
	if d := l.Take("org", "a"); d.Scope != "organization" || d.Remaining != 1 || d.Limit != 2 {
		t.Fatalf("%+v", d)
	}
}

func TestSetAppliesToExistingBuckets(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newAt(Settings{Default: Pair{PerKey: limit(1, 1)}}, c)
	l.Take("org", "k")
	if d := l.Take("org", "k"); d.Allowed {
		t.Fatal("second take of a burst of 1 allowed")
	}
	if err := l.Set(Settings{Default: Pair{PerKey: limit(1, 5)}, Organizations: map[string]Pair{"vip": {}}}); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	if d := l.Take("org", "k"); !d.Allowed || d.Limit != 5 {
		t.Fatalf("after Set: %+v", d)
	}
	if d := l.Take("vip", "v"); !d.Allowed || d.Limited {
		t.Fatalf("an organisation without limits: %+v", d)
	}
	if err := l.Set(Settings{Default: Pair{PerOrg: Limit{PerSecond: 1}}}); err == nil {
		t.Fatal("a rate without a burst was accepted")
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{}
	Decision{Allowed: false, Limited: true, Limit: 5, Remaining: 0, Reset: 4200 * time.Millisecond, RetryAfter: 10 * time.Millisecond}.SetHeaders(h)
	for k, want := range map[string]string{"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5", "Retry-After": "1"} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	h = http.Header{}
	Decision{Allowed: true}.SetHeaders(h)
	if len(h) != 0 {
		t.Errorf("unlimited decision wrote %v", h)
	}
}
