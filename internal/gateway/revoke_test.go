package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// TestKeyHoldsRevoke: revoking a key cancels its requests in flight, with
// a cause that is ErrUnauthenticated, and leaves other keys' alone; a
// request that registers after the revocation starts cancelled; a
// released request is no longer held.
func TestKeyHoldsRevoke(t *testing.T) {
	k := &keyHolds{held: map[string]map[*keyHold]struct{}{}, revoked: map[string]bool{}}
	a1, releaseA1 := k.hold(context.Background(), "key_a")
	a2, releaseA2 := k.hold(context.Background(), "key_a")
	b, releaseB := k.hold(context.Background(), "key_b")
	defer releaseA1()
	defer releaseB()

	releaseA2()
	if a2.Err() == nil {
		t.Fatal("a released request's context is not done")
	}
	if n := k.inFlight("key_a"); n != 1 {
		t.Fatalf("key_a in flight = %d after one release, want 1", n)
	}

	k.revoke("key_a")
	if !errors.Is(context.Cause(a1), errdefs.ErrUnauthenticated) {
		t.Fatalf("cause of a revoked key's request = %v, want ErrUnauthenticated", context.Cause(a1))
	}
	if b.Err() != nil {
		t.Fatalf("another key's request ended: %v", context.Cause(b))
	}
	if n := k.inFlight("key_a"); n != 0 {
		t.Fatalf("key_a in flight = %d after revoke, want 0", n)
	}

	late, releaseLate := k.hold(context.Background(), "key_a")
	defer releaseLate()
	if !errors.Is(context.Cause(late), errdefs.ErrUnauthenticated) {
		t.Fatalf("a request registered after the revoke is live: %v", context.Cause(late))
	}
	if n := k.inFlight("key_a"); n != 0 {
		t.Fatalf("key_a in flight = %d for a late request, want 0", n)
	}
}

// TestWrapEndsOnRevoke: a handler running under Wrap sees its context
// cancelled when its caller's key is revoked.
func TestWrapEndsOnRevoke(t *testing.T) {
	st := &oneKey{key: &auth.APIKey{ID: "key_wrap_revoke", OrganizationID: "org_a", Hash: auth.Hash("hk_secret")}}
	started := make(chan struct{})
	ended := make(chan error, 1)
	h := Authenticator{Store: st}.Wrap(BearerOrAPIKey, func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("Wrap refused the key: %v", err)
	}, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		ended <- context.Cause(r.Context())
	})
	r := httptest.NewRequest("GET", "/v1/events", nil)
	r.Header.Set("Authorization", "Bearer hk_secret")
	go h(httptest.NewRecorder(), r)
	<-started
	Revoked("key_wrap_revoke")
	if err := <-ended; !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Fatalf("handler ended with %v, want ErrUnauthenticated", err)
	}
	if n := holds.inFlight("key_wrap_revoke"); n != 0 {
		t.Fatalf("in flight after the handler returned = %d", n)
	}
}

// oneKey is an auth.Store that knows one key.
type oneKey struct {
	auth.Store
	key *auth.APIKey
}

func (s *oneKey) GetAPIKeyByHash(ctx context.Context, hash string) (*auth.APIKey, error) {
	if hash != s.key.Hash {
		return nil, errdefs.ErrNotFound
	}
	return s.key, nil
}
