package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/webhook"
)

// registerAutomation adds the lifecycle automation routes: the event
// stream, webhooks and the organisation's defaults.
func (s *Server) registerAutomation() {
	s.handle("GET", "/v1/events", s.authenticated(s.streamEvents))
	s.handle("GET", "/v1/webhooks", s.authenticated(s.listWebhooks))
	s.handle("POST", "/v1/webhooks", s.authenticated(s.createWebhook))
	s.handle("DELETE", "/v1/webhooks/{id}", s.authenticated(s.deleteWebhook))
	s.handle("GET", "/v1/organization/settings", s.authenticated(s.getOrgSettings))
	s.handle("PATCH", "/v1/organization/settings", s.authenticated(s.patchOrgSettings))
}

// streamEvents serves the organisation's events as server-sent events
// while the client stays connected. follow=true is required: the log of
// one sandbox is at /v1/sandboxes/{id}/events.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	follow, err := queryBool(q, "follow", false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !follow {
		s.writeError(w, r, errdefs.InvalidField("follow", "must be true: this route streams; a sandbox's log is at /v1/sandboxes/{id}/events"))
		return
	}
	rc := http.NewResponseController(w)
	notices, stop := s.Sandboxes.Bus().Subscribe(principal(r.Context()).OrganizationID, 256)
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": subscribed\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case n, ok := <-notices:
			if !ok {
				return // fell behind; the client reconnects
			}
			e := n.Event
			b, _ := json.Marshal(api.StreamEvent{
				Event: api.Event{ID: e.ID, SandboxID: e.SandboxID, Time: e.Time, Type: e.Type,
					From: string(e.From), To: string(e.To), Cause: e.Cause, Message: e.Message},
				SandboxName: n.SandboxName, State: string(n.State),
			})
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// webhooks returns the store's webhook side and requires an admin key.
// Every store.Store keeps webhooks beside keys, so the auth store is it.
func (s *Server) webhooks(p auth.Principal) (webhook.Store, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	wh, ok := s.Auth.(webhook.Store)
	if !ok {
		return nil, fmt.Errorf("this server's store keeps no webhooks: %w", errdefs.ErrNotImplemented)
	}
	return wh, nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	wh, err := s.webhooks(p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hooks, err := wh.ListWebhooks(r.Context(), p.OrganizationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := api.WebhookList{Items: make([]api.Webhook, 0, len(hooks))}
	for _, h := range hooks {
		out.Items = append(out.Items, api.Webhook{ID: h.ID, URL: h.URL, CreatedAt: h.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	wh, err := s.webhooks(p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req api.CreateWebhookRequest
	if err := decode(w, r, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(req.URL) > 2048 {
		s.writeError(w, r, errdefs.InvalidField("url", "must be an http or https URL of at most 2048 characters"))
		return
	}
	h := &webhook.Webhook{ID: ids.New("wh_"), OrganizationID: p.OrganizationID, URL: req.URL,
		Secret: "whsec_" + auth.NewSecret()[len(auth.KeyPrefix):], CreatedAt: time.Now().UTC()}
	if err := wh.CreateWebhook(r.Context(), h); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.Webhook{ID: h.ID, URL: h.URL, Secret: h.Secret, CreatedAt: h.CreatedAt})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	wh, err := s.webhooks(p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := wh.DeleteWebhook(r.Context(), p.OrganizationID, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getOrgSettings(w http.ResponseWriter, r *http.Request) {
	o, err := s.Sandboxes.OrgSettings(r.Context(), principal(r.Context()).OrganizationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orgSettingsToAPI(o))
}

// patchOrgSettings applies a merge patch: a field absent is kept, null
// clears it back to the server's default.
func (s *Server) patchOrgSettings(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	if err := requireAdmin(p); err != nil {
		s.writeError(w, r, err)
		return
	}
	var patch map[string]json.RawMessage
	if err := decode(w, r, &patch, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.Sandboxes.OrgSettings(r.Context(), p.OrganizationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ints := map[string]**int{"defaultAutoStopMinutes": &o.AutoStopMinutes,
		"defaultAutoArchiveMinutes": &o.AutoArchiveMinutes, "defaultAutoDeleteMinutes": &o.AutoDeleteMinutes}
	for k, raw := range patch {
		var err error
		switch dst, ok := ints[k]; {
		case ok:
			err = json.Unmarshal(raw, dst) // null sets nil
		case k == "defaultTimeoutSeconds":
			err = json.Unmarshal(raw, &o.TimeoutSeconds)
		default:
			s.writeError(w, r, errdefs.InvalidField(k, "unknown setting"))
			return
		}
		if err != nil {
			s.writeError(w, r, errdefs.InvalidField(k, "must be an integer or null"))
			return
		}
	}
	if err := s.Sandboxes.SetOrgSettings(r.Context(), o); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orgSettingsToAPI(o))
}

func orgSettingsToAPI(o *sandbox.OrgSettings) api.OrganizationSettings {
	out := api.OrganizationSettings{DefaultTimeoutSeconds: o.TimeoutSeconds, DefaultAutoStopMinutes: o.AutoStopMinutes,
		DefaultAutoArchiveMinutes: o.AutoArchiveMinutes, DefaultAutoDeleteMinutes: o.AutoDeleteMinutes}
	if !o.UpdatedAt.IsZero() {
		out.UpdatedAt = &o.UpdatedAt
	}
	return out
}
