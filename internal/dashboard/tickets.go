package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// ticketTTL is how long a terminal ticket may wait for its WebSocket: the
// page asks for one just before it connects.
const ticketTTL = 30 * time.Second

// maxTickets bounds the tickets waiting at once, so that a caller asking
// for tickets it never uses cannot grow the server's memory.
const maxTickets = 4096

// tickets are single-use passes to one sandbox's terminal. A browser's
// WebSocket cannot send the API key in a header, and the key must not be
// in a URL (logs, history, Referer); so the page proves its key on a
// normal request, receives a ticket, and opens the WebSocket with it. A
// ticket is random, bound to the caller and the sandbox, used at most once
// and dead after ticketTTL; the server keeps only its hash.
type tickets struct {
	mu      sync.Mutex
	pending map[[32]byte]ticket
	ttl     time.Duration
	now     func() time.Time
}

type ticket struct {
	caller    auth.Principal
	sandboxID string
	expires   time.Time
}

func newTickets(ttl time.Duration, now func() time.Time) *tickets {
	return &tickets{pending: map[[32]byte]ticket{}, ttl: ttl, now: now}
}

// issue makes a ticket for caller to open sandboxID's terminal.
func (t *tickets) issue(caller auth.Principal, sandboxID string) (secret string, expires time.Time, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	secret = "tt_" + base64.RawURLEncoding.EncodeToString(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, tk := range t.pending {
		if !now.Before(tk.expires) {
			delete(t.pending, k)
		}
	}
	if len(t.pending) >= maxTickets {
		return "", time.Time{}, fmt.Errorf("too many terminal tickets are waiting to be used; try again in %s: %w", t.ttl, errdefs.ErrResourceExhausted)
	}
	expires = now.Add(t.ttl)
	t.pending[sha256.Sum256([]byte(secret))] = ticket{caller: caller, sandboxID: sandboxID, expires: expires}
	return secret, expires, nil
}

// take uses up a ticket: unknown, already used and expired ones are all
// the same 401, which says nothing about which it was.
func (t *tickets) take(secret string) (caller auth.Principal, sandboxID string, err error) {
	k := sha256.Sum256([]byte(secret))
	t.mu.Lock()
	tk, ok := t.pending[k]
	delete(t.pending, k)
	t.mu.Unlock()
	if !ok || !t.now().Before(tk.expires) {
		return auth.Principal{}, "", fmt.Errorf("the terminal ticket is unknown, used or expired; ask for a new one: %w", errdefs.ErrUnauthenticated)
	}
	return tk.caller, tk.sandboxID, nil
}
