package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// registerAutomation adds the lifecycle automation routes: the event
// stream, webhooks and the organisation's defaults.
func (s *Server) registerAutomation() {
	s.handle("GET", "/v1/events", s.authenticated(s.streamEvents))
	s.handle("GET", "/v1/webhooks", s.authenticated(s.listWebhooks))
	s.handle("POST", "/v1/webhooks", s.authenticated(s.createWebhook))
	s.handle("DELETE", "/v1/webhooks/{id}", s.authenticated(s.deleteWebhook))
	s.handle("GET", "/v1/webhooks/{id}/deliveries", s.authenticated(s.listWebhookDeliveries))
	s.handle("GET", "/v1/organization/settings", s.authenticated(s.getOrgSettings))
	s.handle("PATCH", "/v1/organization/settings", s.authenticated(s.patchOrgSettings))
}

// streamEvents serves the organisation's events as server-sent events
// while the client stays connected. follow=true is required: the log of
// one sandbox is at /v1/sandboxes/{id}/events.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	follow, err := queryBool(q, "follow", false)
	if err != nil {
		return err
	}
	if !follow {
		return errdefs.InvalidField("follow", "must be true: this route streams; a sandbox's log is at /v1/sandboxes/{id}/events")
	}
	rc := http.NewResponseController(w)
	notices, stop := s.Sandboxes.Bus().Subscribe(principal(r.Context()).OrganizationID, 256)
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": subscribed\n\n")
	if err := rc.Flush(); err != nil {
		return nil
	}
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case n, ok := <-notices:
			if !ok {
				return nil // fell behind; the client reconnects
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
			return nil
		}
	}
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := s.Webhooks.List(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	out := api.WebhookList{Items: make([]api.Webhook, 0, len(hooks))}
	for _, h := range hooks {
		out.Items = append(out.Items, api.Webhook{ID: h.ID, URL: h.URL, CreatedAt: h.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateWebhookRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	h, err := s.Webhooks.Create(r.Context(), principal(r.Context()), req.URL)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.Webhook{ID: h.ID, URL: h.URL, Secret: h.Secret, CreatedAt: h.CreatedAt})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.Webhooks.Delete(r.Context(), principal(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	attempts, err := s.Webhooks.Deliveries(r.Context(), principal(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := api.WebhookDeliveryList{Items: make([]api.WebhookDelivery, 0, len(attempts))}
	for _, a := range attempts {
		out.Items = append(out.Items, api.WebhookDelivery{
			DeliveryID: strconv.FormatInt(a.DeliveryID, 10), Event: a.Event, SandboxID: a.SandboxID,
			From: a.From, To: a.To, Attempt: a.Attempt, Time: a.Time, StatusCode: a.StatusCode, Error: a.Error,
			LatencyMs: float64(a.Latency.Microseconds()) / 1000, Outcome: a.Outcome,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getOrgSettings(w http.ResponseWriter, r *http.Request) error {
	o, err := s.Sandboxes.OrgSettings(r.Context(), principal(r.Context()).OrganizationID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orgSettingsToAPI(o))
	return nil
}

// patchOrgSettings applies a merge patch: a field absent is kept, null
// clears it back to the server's default.
func (s *Server) patchOrgSettings(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	if err := requireAdmin(p); err != nil {
		return err
	}
	var patch map[string]json.RawMessage
	if err := decode(w, r, &patch, false); err != nil {
		return err
	}
	o, err := s.Sandboxes.OrgSettings(r.Context(), p.OrganizationID)
	if err != nil {
		return err
	}
	ints := map[string]**int{"defaultAutoStopMinutes": &o.AutoStopMinutes, "defaultAutoPauseMinutes": &o.AutoPauseMinutes,
		"defaultAutoArchiveMinutes": &o.AutoArchiveMinutes, "defaultAutoDeleteMinutes": &o.AutoDeleteMinutes}
	for k, raw := range patch {
		var err error
		switch dst, ok := ints[k]; {
		case ok:
			err = json.Unmarshal(raw, dst) // null sets nil
		case k == "defaultTimeoutSeconds":
			err = json.Unmarshal(raw, &o.TimeoutSeconds)
		case k == "pauseReleaseAfterSeconds":
			err = json.Unmarshal(raw, &o.PauseReleaseAfterSeconds)
		case k == "defaultPauseMemory":
			if json.Unmarshal(raw, &o.PauseMemory) != nil {
				return errdefs.InvalidField(k, "must be %q, %q or null", sandbox.PauseKeep, sandbox.PauseRelease)
			}
		case k == "defaultRuntime":
			if json.Unmarshal(raw, &o.DefaultRuntime) != nil {
				return errdefs.InvalidField(k, "must be a runtime's name (GET /v1/info lists them) or null")
			}
		case k == "usePools":
			if json.Unmarshal(raw, &o.UsePools) != nil {
				return errdefs.InvalidField(k, "must be true, false or null")
			}
		default:
			return errdefs.InvalidField(k, "unknown setting")
		}
		if err != nil {
			return errdefs.InvalidField(k, "must be an integer or null")
		}
	}
	if err := s.Sandboxes.SetOrgSettings(r.Context(), o); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orgSettingsToAPI(o))
	return nil
}

func orgSettingsToAPI(o *sandbox.OrgSettings) api.OrganizationSettings {
	out := api.OrganizationSettings{DefaultTimeoutSeconds: o.TimeoutSeconds, DefaultAutoStopMinutes: o.AutoStopMinutes,
		DefaultAutoPauseMinutes: o.AutoPauseMinutes, DefaultAutoArchiveMinutes: o.AutoArchiveMinutes,
		DefaultAutoDeleteMinutes: o.AutoDeleteMinutes, PauseReleaseAfterSeconds: o.PauseReleaseAfterSeconds,
		DefaultRuntime: o.DefaultRuntime, UsePools: o.UsePools}
	if o.PauseMemory != nil {
		m := string(*o.PauseMemory)
		out.DefaultPauseMemory = &m
	}
	if !o.UpdatedAt.IsZero() {
		out.UpdatedAt = &o.UpdatedAt
	}
	return out
}
