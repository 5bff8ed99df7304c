package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
)

func requestID(ctx context.Context) string { return gateway.RequestID(ctx) }

func principal(ctx context.Context) auth.Principal { return gateway.Principal(ctx) }

// handlerFunc is a handler with one exit for errors: it returns the error
// and serve answers it with the envelope (Caddy's shape), instead of each
// handler writing it and returning.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts h to net/http.
func (s *Server) serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// authenticated verifies the caller's key (Authorization: Bearer or
// X-API-Key) before h runs.
func (s *Server) authenticated(h handlerFunc) http.HandlerFunc {
	return gateway.Authenticator{Store: s.Auth}.Wrap(gateway.BearerOrAPIKey, s.writeError, s.serve(h))
}

// requireAdmin refuses callers whose key may not manage the organisation.
func requireAdmin(p auth.Principal) error {
	if !p.Admin {
		return fmt.Errorf("this API key is not an admin key: %w", errdefs.ErrForbidden)
	}
	return nil
}
