// Package ratelimit holds the request rate limits of API keys and
// organisations: one token bucket per key and one per organisation, both
// of which a request must find a token in. The platform admin changes the
// limits while the server runs; buckets pick a change up on their next
// request.
package ratelimit

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limit is one token bucket's shape: Burst tokens at most, refilled at
// PerSecond. A PerSecond of 0 is no limit.
type Limit struct {
	PerSecond float64 `json:"perSecond"`
	Burst     int     `json:"burst"`
}

// Off reports whether l limits nothing.
func (l Limit) Off() bool { return l.PerSecond <= 0 }

func (l Limit) validate(name string) error {
	switch {
	case l.PerSecond < 0 || math.IsNaN(l.PerSecond) || math.IsInf(l.PerSecond, 0):
		return fmt.Errorf("%s.perSecond %v: must be 0 (no limit) or more", name, l.PerSecond)
	case !l.Off() && l.Burst < 1:
		return fmt.Errorf("%s.burst %d: must be 1 or more when perSecond is set", name, l.Burst)
	}
	return nil
}

// Pair is the limits of one organisation: of each of its API keys, and of
// all of them together.
type Pair struct {
	PerKey Limit `json:"perKey"`
	PerOrg Limit `json:"perOrg"`
}

// Settings are every limit: the defaults and the organisations that have
// their own.
type Settings struct {
	Default       Pair            `json:"default"`
	Organizations map[string]Pair `json:"organizations,omitempty"`
}

// Validate reports the first limit that cannot work.
func (s Settings) Validate() error {
	check := func(prefix string, p Pair) error {
		if err := p.PerKey.validate(prefix + "perKey"); err != nil {
			return err
		}
		return p.PerOrg.validate(prefix + "perOrg")
	}
	if err := check("default.", s.Default); err != nil {
		return err
	}
	for org, p := range s.Organizations {
		if org == "" {
			return fmt.Errorf("organizations: an organisation ID is empty")
		}
		if err := check("organizations."+org+".", p); err != nil {
			return err
		}
	}
	return nil
}

// For is the pair of limits that applies to organisation org.
func (s Settings) For(org string) Pair {
	if p, ok := s.Organizations[org]; ok {
		return p
	}
	return s.Default
}

// Limiter keeps the buckets. It is safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	settings Settings
	keys     map[string]*bucket
	orgs     map[string]*bucket
	now      func() time.Time
}

// New returns a limiter with settings s, which must be valid.
func New(s Settings) *Limiter {
	return &Limiter{settings: s, keys: map[string]*bucket{}, orgs: map[string]*bucket{}, now: time.Now}
}

// Settings returns the limits in force.
func (l *Limiter) Settings() Settings {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.settings.clone()
}

// Set replaces the limits; a bucket keeps its tokens (capped at its new
// burst) and refills at its new rate from the next request on.
func (l *Limiter) Set(s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settings = s.clone()
	return nil
}

func (s Settings) clone() Settings {
	out := Settings{Default: s.Default}
	if len(s.Organizations) > 0 {
		out.Organizations = make(map[string]Pair, len(s.Organizations))
		for k, v := range s.Organizations {
			out.Organizations[k] = v
		}
	}
	return out
}

// Decision is what one request was told: whether it may go on, and the
// state of the tighter of its two buckets, for the response headers.
type Decision struct {
	Allowed bool
	// Limited is false when no limit applies to the caller (no headers).
	Limited bool
	// Limit is the bucket's burst, Remaining the whole tokens left in it.
	Limit, Remaining int
	// Reset is how long until the bucket is full again; RetryAfter, for a
	// refused request, how long until it holds one token.
	Reset, RetryAfter time.Duration
	// Scope names the bucket ("key" or "organization").
	Scope string
}

// Take spends a token of key's bucket and of org's, or neither when
// either is empty.
func (l *Limiter) Take(org, key string) Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	p := l.settings.For(org)
	kb := l.bucket(l.keys, key, p.PerKey, now)
	ob := l.bucket(l.orgs, org, p.PerOrg, now)
	allowed := (kb == nil || kb.tokens >= 1) && (ob == nil || ob.tokens >= 1)
	if allowed {
		for _, b := range []*bucket{kb, ob} {
			if b != nil {
				b.tokens--
			}
		}
	}
	d := Decision{Allowed: allowed}
	b, scope := tighter(kb, ob)
	if b == nil {
		return d
	}
	d.Limited, d.Scope = true, scope
	d.Limit, d.Remaining = b.limit.Burst, int(math.Floor(b.tokens))
	d.Reset = b.until(float64(b.limit.Burst))
	if !allowed {
		d.RetryAfter = b.until(1)
	}
	return d
}

// tighter is the bucket the headers describe: an empty one (which refused
// the request), else the emptier relative to its size.
func tighter(key, org *bucket) (*bucket, string) {
	switch {
	case key == nil && org == nil:
		return nil, ""
	case org == nil:
		return key, "key"
	case key == nil:
		return org, "organization"
	case key.tokens < 1:
		return key, "key"
	case org.tokens < 1:
		return org, "organization"
	case org.tokens/float64(org.limit.Burst) < key.tokens/float64(key.limit.Burst):
		return org, "organization"
	}
	return key, "key"
}

// bucket returns the bucket of name in m refilled to now, made full when
// it is new, or nil when limit is off.
func (l *Limiter) bucket(m map[string]*bucket, name string, limit Limit, now time.Time) *bucket {
	if limit.Off() || name == "" {
		delete(m, name)
		return nil
	}
	b, ok := m[name]
	if !ok {
		b = &bucket{tokens: float64(limit.Burst), at: now}
		m[name] = b
	}
	b.limit = limit
	b.refill(now)
	return b
}

// bucket is one token bucket.
type bucket struct {
	limit  Limit
	tokens float64
	at     time.Time
}

func (b *bucket) refill(now time.Time) {
	if el := now.Sub(b.at); el > 0 {
		b.tokens += el.Seconds() * b.limit.PerSecond
	}
	b.at = now
	b.tokens = math.Min(b.tokens, float64(b.limit.Burst))
}

// until is how long the bucket takes to hold n tokens.
func (b *bucket) until(n float64) time.Duration {
	if b.tokens >= n {
		return 0
	}
	return time.Duration((n - b.tokens) / b.limit.PerSecond * float64(time.Second))
}

// SetHeaders writes d as X-RateLimit-Limit, -Remaining and -Reset (whole
// seconds until the bucket is full), and Retry-After (whole seconds, at
// least 1) when d refused the request.
func (d Decision) SetHeaders(h http.Header) {
	if !d.Limited {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	}
}

func ceilSeconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}
