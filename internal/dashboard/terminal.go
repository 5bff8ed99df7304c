package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
)

// TerminalTicket is the answer to a ticket request.
type TerminalTicket struct {
	Ticket    string    `json:"ticket"`
	SandboxID string    `json:"sandboxId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// issueTicket gives the caller a ticket to one of its sandboxes' terminal.
// The sandbox must be one the caller may reach now (the same check as the
// terminal itself), so that a refusal is shown before any WebSocket.
func (h *Handler) issueTicket(w http.ResponseWriter, r *http.Request) error {
	p := gateway.Principal(r.Context())
	sess, err := h.Sandboxes.OpenAgent(r.Context(), p.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	id := sess.Sandbox.ID
	sess.Close()
	secret, exp, err := h.tickets.issue(p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, TerminalTicket{Ticket: secret, SandboxID: id, ExpiresAt: exp})
	return nil
}

// terminal opens the sandbox's terminal, as GET /v1/sandboxes/{id}/pty
// does, for the holder of a ticket: the agent's own WebSocket, spliced
// through the same door (OpenAgent) and forwarder as the native API's.
// Query parameters other than the ticket (cols, rows, cwd, command) go to
// the agent as they are.
func (h *Handler) terminal(w http.ResponseWriter, r *http.Request) error {
	if !sameOrigin(r) {
		return fmt.Errorf("a terminal opens only from the dashboard's own origin: %w", errdefs.ErrForbidden)
	}
	q := r.URL.Query()
	caller, id, err := h.tickets.take(q.Get("ticket"))
	if err != nil {
		return err
	}
	// The terminal lives as long as the key that asked for its ticket: a
	// revocation ends it like any stream opened with that key.
	ctx, release := gateway.HoldKey(r.Context(), caller.KeyID)
	defer release()
	r = r.WithContext(ctx)
	sess, err := h.Sandboxes.OpenAgent(ctx, caller.OrganizationID, id)
	if err != nil {
		return err
	}
	defer sess.Close()
	q.Del("ticket")
	out := r.WithContext(sess.Context())
	u := *r.URL
	u.RawQuery = q.Encode()
	out.URL = &u
	out.Header.Set("X-Request-Id", gateway.RequestID(r.Context()))
	h.Agents.Forward(w, out, sess, "/pty", func(w http.ResponseWriter, r *http.Request, err error) {
		if cause := context.Cause(r.Context()); errors.Is(cause, errdefs.ErrPaused) {
			h.writeError(w, r, cause)
			return
		}
		if r.Context().Err() != nil {
			return // the caller left; nobody to answer
		}
		if !errors.Is(err, errdefs.ErrUnavailable) {
			err = fmt.Errorf("the agent of sandbox %s did not answer: %v: %w", id, err, errdefs.ErrUnavailable)
		}
		h.writeError(w, r, err)
	})
	return nil
}

// sameOrigin refuses a WebSocket that another site's page opened (a
// browser always sends Origin on one), so that such a page cannot use a
// ticket it got hold of. A client that is not a browser sends no Origin
// and is judged by its ticket alone.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
