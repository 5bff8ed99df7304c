package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// keyHolds ends the requests in flight of a key when it is revoked: a
// stream, an SSE subscription or a proxied WebSocket (a PTY) lives as long
// as its request's context, so cancelling that context closes it. Revoked
// keys are remembered so that a request that verified its key just before
// the revocation, and registers just after it, is ended too.
type keyHolds struct {
	mu      sync.Mutex
	held    map[string]map[*keyHold]struct{}
	revoked map[string]bool
}

type keyHold struct{ cancel context.CancelCauseFunc }

// holds is one per process, not per Authenticator: every face builds its
// Authenticator from the store alone, and key IDs are unique across
// stores, so one registry serves every face and every server.
var holds = &keyHolds{held: map[string]map[*keyHold]struct{}{}, revoked: map[string]bool{}}

// Revoked ends every request in flight that was authenticated with key
// keyID, and any that registers later: their contexts are cancelled with a
// cause wrapping errdefs.ErrUnauthenticated. The key's store record must
// already be revoked, so that no new request authenticates with it.
func Revoked(keyID string) { holds.revoke(keyID) }

// HoldKey returns a context of ctx that is cancelled when key keyID is
// revoked, and the release to call once the request is done. Wrap holds
// every request it authenticates; a handler that verifies a key another
// way (a port proxy's key, a ticket that carries its issuer's key) holds
// its request itself.
func HoldKey(ctx context.Context, keyID string) (context.Context, func()) {
	return holds.hold(ctx, keyID)
}

func (k *keyHolds) hold(ctx context.Context, keyID string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	h := &keyHold{cancel: cancel}
	k.mu.Lock()
	if k.revoked[keyID] {
		k.mu.Unlock()
		cancel(revokedErr(keyID))
		return ctx, func() {}
	}
	if k.held[keyID] == nil {
		k.held[keyID] = map[*keyHold]struct{}{}
	}
	k.held[keyID][h] = struct{}{}
	k.mu.Unlock()
	return ctx, func() {
		k.mu.Lock()
		delete(k.held[keyID], h)
		if len(k.held[keyID]) == 0 {
			delete(k.held, keyID)
		}
		k.mu.Unlock()
		cancel(nil)
	}
}

func (k *keyHolds) revoke(keyID string) {
	cause := revokedErr(keyID)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.revoked[keyID] = true
	for h := range k.held[keyID] {
		h.cancel(cause)
	}
	delete(k.held, keyID)
}

// inFlight reports how many requests of keyID are held.
func (k *keyHolds) inFlight(keyID string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held[keyID])
}

func revokedErr(keyID string) error {
	return fmt.Errorf("API key %s was revoked: %w", keyID, errdefs.ErrUnauthenticated)
}
