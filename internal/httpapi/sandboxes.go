package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

func (s *Server) createSandbox(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateSandboxRequest
	if err := decode(w, r, &req, true); err != nil {
		return err
	}
	q, err := query(r)
	if err != nil {
		return err
	}
	wait, err := queryBool(q, "wait", true)
	if err != nil {
		return err
	}
	cr := sandbox.CreateRequest{
		OrganizationID:     principal(r.Context()).OrganizationID,
		Name:               req.Name,
		Image:              req.Image,
		Template:           req.Template,
		Entrypoint:         req.Entrypoint,
		Env:                req.Env,
		Metadata:           req.Metadata,
		TimeoutSeconds:     req.TimeoutSeconds,
		AutoStopMinutes:    req.AutoStopMinutes,
		AutoPauseMinutes:   req.AutoPauseMinutes,
		AutoArchiveMinutes: req.AutoArchiveMinutes,
		AutoDeleteMinutes:  req.AutoDeleteMinutes,
		Wait:               wait,
		Runtime:            req.Runtime,
		NoPool:             req.Pool != nil && !*req.Pool,

		PauseReleaseAfterSeconds: req.PauseReleaseAfterSeconds,
	}
	if res := req.Resources; res != nil {
		cr.CPU, cr.MemoryMB, cr.DiskMB, cr.Pids = res.CPU, res.MemoryMB, res.DiskMB, res.Pids
	}
	if n := req.Network; n != nil {
		cr.Internet, cr.AllowCIDRs, cr.DenyCIDRs = n.Internet, n.AllowCIDRs, n.DenyCIDRs
	}
	if req.AutoResume != nil {
		cr.AutoResume = *req.AutoResume
	}
	sb, err := s.Sandboxes.Create(r.Context(), cr)
	if err != nil {
		return err
	}
	writeJSON(w, settledStatus(sb, http.StatusCreated), toAPI(sb))
	return nil
}

// settledStatus is ok for a settled sandbox and 202 while work goes on.
func settledStatus(sb *sandbox.Sandbox, ok int) int {
	if sb.State.Transitional() {
		return http.StatusAccepted
	}
	return ok
}

func (s *Server) getSandbox(w http.ResponseWriter, r *http.Request) error {
	sb, err := s.Sandboxes.Get(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	_ = s.Sandboxes.Touch(r.Context(), sb) // activity is best effort; a read must not fail on it
	writeJSON(w, http.StatusOK, toAPI(sb))
	return nil
}

func (s *Server) listSandboxes(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	f := sandbox.ListFilter{OrganizationID: principal(r.Context()).OrganizationID, NamePrefix: q.Get("name")}
	if f.Page, err = queryInt(q, "page", 1, 1, 1<<30); err != nil {
		return err
	}
	if f.PageSize, err = queryInt(q, "pageSize", 20, 1, 200); err != nil {
		return err
	}
	for _, v := range q["state"] {
		for _, st := range strings.Split(v, ",") {
			f.States = append(f.States, sandbox.State(strings.TrimSpace(st)))
		}
	}
	if md := q.Get("metadata"); md != "" {
		vals, err := url.ParseQuery(md)
		if err != nil {
			return errdefs.InvalidField("metadata", "must be URL-encoded k=v pairs joined by &")
		}
		f.Metadata = make(map[string]string, len(vals))
		for k, v := range vals {
			f.Metadata[k] = v[len(v)-1]
		}
	}
	items, total, err := s.Sandboxes.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := api.SandboxList{Items: make([]api.Sandbox, 0, len(items))}
	for _, sb := range items {
		out.Items = append(out.Items, toAPI(sb))
	}
	pages := (total + f.PageSize - 1) / f.PageSize
	out.Pagination = api.Pagination{Page: f.Page, PageSize: f.PageSize, TotalItems: total,
		TotalPages: pages, HasNextPage: f.Page < pages}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// action serves pause, resume, stop, start, archive and delete.
func (s *Server) action(a sandbox.Action) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := query(r)
		if err != nil {
			return err
		}
		wait, err := queryBool(q, "wait", true)
		if err != nil {
			return err
		}
		force, err := queryBool(q, "force", false)
		if err != nil {
			return err
		}
		var pause api.PauseRequest
		if a == sandbox.ActionPause {
			if err := decode(w, r, &pause, true); err != nil {
				return err
			}
		}
		sb, err := s.Sandboxes.Act(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"), a,
			sandbox.ActOptions{Wait: wait, Force: force, Memory: sandbox.PauseMemory(pause.Memory)})
		if err != nil {
			return err
		}
		writeJSON(w, settledStatus(sb, http.StatusOK), toAPI(sb))
		return nil
	}
}

func (s *Server) patchMetadata(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]*string
	if err := decode(w, r, &patch, false); err != nil {
		return err
	}
	return answer(w)(s.Sandboxes.PatchMetadata(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"), patch))
}

func (s *Server) renewExpiration(w http.ResponseWriter, r *http.Request) error {
	var req api.RenewExpirationRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, req.ExpiresAt)
	if err != nil {
		return errdefs.InvalidField("expiresAt", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z, got %q", req.ExpiresAt)
	}
	return answer(w)(s.Sandboxes.RenewExpiration(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"), at))
}

func (s *Server) setTimeout(w http.ResponseWriter, r *http.Request) error {
	var req api.SetTimeoutRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	return answer(w)(s.Sandboxes.SetTimeout(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"), req.TimeoutSeconds))
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	evs, err := s.Sandboxes.Events(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := api.EventList{Items: make([]api.Event, 0, len(evs))}
	for _, e := range evs {
		out.Items = append(out.Items, api.Event{ID: e.ID, SandboxID: e.SandboxID, Time: e.Time, Type: e.Type,
			From: string(e.From), To: string(e.To), Cause: e.Cause, Message: e.Message})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// answer writes a service call's sandbox, or returns its error.
func answer(w http.ResponseWriter) func(*sandbox.Sandbox, error) error {
	return func(sb *sandbox.Sandbox, err error) error {
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toAPI(sb))
		return nil
	}
}

// toAPI is the one conversion of a stored sandbox to its wire form.
func toAPI(sb *sandbox.Sandbox) api.Sandbox {
	md := sb.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return api.Sandbox{
		ID:                 sb.ID,
		Name:               sb.Name,
		OrganizationID:     sb.OrganizationID,
		Image:              sb.Image,
		Template:           sb.Template,
		Entrypoint:         sb.Entrypoint,
		State:              string(sb.State),
		DesiredState:       string(sb.DesiredState),
		StateReason:        sb.StateReason,
		Metadata:           md,
		Resources:          api.Resources{CPU: sb.Resources.CPU, MemoryMB: sb.Resources.MemoryMB, DiskMB: sb.Resources.DiskMB, Pids: sb.Resources.Pids},
		Network:            apiNetwork(sb.Network),
		TimeoutSeconds:     sb.TimeoutSeconds,
		ExpiresAt:          sb.ExpiresAt,
		AutoStopMinutes:    sb.AutoStopMinutes,
		AutoPauseMinutes:   sb.AutoPauseMinutes,
		AutoArchiveMinutes: sb.AutoArchiveMinutes,
		AutoDeleteMinutes:  sb.AutoDeleteMinutes,
		AutoResume:         sb.AutoResume,
		CreatedAt:          sb.CreatedAt,
		UpdatedAt:          sb.UpdatedAt,
		StartedAt:          sb.StartedAt,
		LastActivityAt:     sb.LastActivityAt,
		Pause:              pauseToAPI(sb.Pause),
		Runtime:            sandbox.RuntimeOf(sb),

		PauseReleaseAfterSeconds: sb.PauseReleaseAfterSeconds,
	}
}

func pauseToAPI(p *sandbox.PauseInfo) *api.PauseInfo {
	if p == nil {
		return nil
	}
	return &api.PauseInfo{Memory: string(p.Memory), Since: p.Since, SizeBytes: p.SizeBytes, ReleaseAt: p.ReleaseAt}
}
