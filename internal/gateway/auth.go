package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/hutchdev/hutch/internal/auth"
)

// KeyReader finds the API key in a request, where a face's clients send
// it (Authorization: Bearer, X-API-Key, a vendor's own header).
type KeyReader func(r *http.Request) string

// Authenticator verifies API keys for every face: one store of keys, one
// organisation scoping.
type Authenticator struct {
	Store auth.Store
}

// Authenticate verifies the key that read finds in r and returns r's
// context with the caller as its Principal.
func (a Authenticator) Authenticate(r *http.Request, read KeyReader) (context.Context, error) {
	p, err := auth.Authenticate(r.Context(), a.Store, read(r))
	if err != nil {
		return nil, err
	}
	return context.WithValue(r.Context(), keyPrincipal, p), nil
}

// Wrap runs h only for an authenticated caller; a failure is writeErr's.
// h's context is cancelled when the caller's key is revoked (Revoked), so
// that the streams, PTYs and subscriptions it opened end with the key.
func (a Authenticator) Wrap(read KeyReader, writeErr ErrorWriter, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, err := a.Authenticate(r, read)
		if err != nil {
			writeErr(w, r, err)
			return
		}
		if err := limit(w, ctx, Principal(ctx)); err != nil {
			writeErr(w, r, err)
			return
		}
		ctx, release := HoldKey(ctx, Principal(ctx).KeyID)
		defer release()
		h(w, r.WithContext(ctx))
	}
}

// BearerOrAPIKey reads "Authorization: Bearer <key>", else X-API-Key: the
// native API's way, and Daytona's and HopX's.
func BearerOrAPIKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	return r.Header.Get("X-API-Key")
}

// Header reads the key from one header, as a vendor's SDK sends it.
func Header(name string) KeyReader {
	return func(r *http.Request) string { return strings.TrimSpace(r.Header.Get(name)) }
}
