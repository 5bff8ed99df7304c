package hopx

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// statuses are HopX's words for Hutch's states; a transitional state
// reads as the state it leaves, until it has arrived.
var statuses = map[sandbox.State]string{
	sandbox.StateCreating:  "creating",
	sandbox.StateStarting:  "creating",
	sandbox.StateRunning:   "running",
	sandbox.StatePausing:   "running",
	sandbox.StatePaused:    "paused",
	sandbox.StateResuming:  "paused",
	sandbox.StateStopping:  "running",
	sandbox.StateStopped:   "stopped",
	sandbox.StateArchiving: "stopped",
	sandbox.StateArchived:  "stopped",
	sandbox.StateDeleting:  "deleted",
	sandbox.StateDeleted:   "deleted",
	sandbox.StateError:     "error",
}

// templates are HopX's template names that mean one of Hutch's offline
// images; any other name is taken as an image reference.
var templates = map[string]string{
	"code-interpreter": "python",
	"python":           "python",
	"nodejs":           "node",
	"node":             "node",
	"base":             "base",
	"ubuntu":           "base",
	"debian":           "base",
}

// sandboxBody is HopX's sandbox (the Get Sandbox seed's body).
type sandboxBody struct {
	ID             string     `json:"id"`
	Object         string     `json:"object"`
	Status         string     `json:"status"`
	PublicHost     string     `json:"public_host"`
	DirectURL      string     `json:"direct_url"`
	PreviewURL     string     `json:"preview_url,omitempty"`
	TemplateID     string     `json:"template_id"`
	TemplateName   string     `json:"template_name"`
	OrganizationID string     `json:"organization_id"`
	NodeID         string     `json:"node_id"`
	Region         string     `json:"region"`
	Resources      resources  `json:"resources"`
	InternetAccess bool       `json:"internet_access"`
	LiveMode       bool       `json:"live_mode"`
	TimeoutSeconds *int64     `json:"timeout_seconds"`
	ExpiresAt      *time.Time `json:"expires_at"`
	CreatedAt      time.Time  `json:"created_at"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	AuthToken      string     `json:"auth_token,omitempty"`
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
	RequestID      string     `json:"request_id"`
}

type resources struct {
	VCPU     float64 `json:"vcpu"`
	MemoryMB int64   `json:"memory_mb"`
	DiskMB   int64   `json:"disk_mb"`
}

// agentURL is where the sandbox's VM agent answers for this client: the
// host form when a resolvable domain is configured (WebSocket features
// need a host of their own), else the path form under this server.
func (f *face) agentURL(r *http.Request, id string) string {
	if f.Domain != "" && f.Domain != "localhost" {
		return compat.Scheme(r) + "://" + f.SandboxHost(r, id, strconv.Itoa(AgentPort))
	}
	return f.BaseURL(r) + Prefix + "/agent/" + id
}

func (f *face) body(r *http.Request, sb *sandbox.Sandbox) sandboxBody {
	host := f.agentURL(r, sb.ID)
	name := sb.Template
	if name == "" {
		name = sb.Image
	}
	return sandboxBody{ID: sb.ID, Object: "sandbox", Status: statuses[sb.State], PublicHost: host, DirectURL: host,
		TemplateID: sb.Image, TemplateName: name, OrganizationID: sb.OrganizationID, NodeID: "local", Region: "local",
		Resources:      resources{VCPU: sb.Resources.CPU, MemoryMB: sb.Resources.MemoryMB, DiskMB: sb.Resources.DiskMB},
		InternetAccess: sb.Network.Internet, LiveMode: true, TimeoutSeconds: sb.TimeoutSeconds, ExpiresAt: sb.ExpiresAt,
		CreatedAt: sb.CreatedAt, StartedAt: sb.StartedAt, RequestID: gateway.RequestID(r.Context())}
}

// withToken adds a fresh agent token to b.
func (f *face) withToken(b sandboxBody) sandboxBody {
	token, until := f.Tokens.IssueFor(vendor, b.ID, tokenTTL)
	b.AuthToken, b.TokenExpiresAt = token, &until
	return b
}

func (f *face) registerControl(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		compat.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /v1/sandboxes", f.Authed(f.create))
	mux.HandleFunc("GET /v1/sandboxes", f.Authed(f.list))
	mux.HandleFunc("GET /v1/sandboxes/{id}", f.Authed(f.get))
	mux.HandleFunc("DELETE /v1/sandboxes/{id}", f.Authed(f.remove))
	for _, a := range []sandbox.Action{sandbox.ActionPause, sandbox.ActionResume, sandbox.ActionStop, sandbox.ActionStart} {
		mux.HandleFunc("POST /v1/sandboxes/{id}/"+string(a), f.Authed(f.act(a)))
	}
	mux.HandleFunc("PUT /v1/sandboxes/{id}/timeout", f.Authed(f.setTimeout))
	mux.HandleFunc("POST /v1/sandboxes/{id}/token/refresh", f.Authed(f.refreshToken))
	mux.HandleFunc("GET /v1/templates", f.Authed(f.listTemplates))
	mux.HandleFunc("GET /v1/templates/{name}", f.Authed(f.getTemplate))
	for _, p := range []string{"POST /v1/templates/build", "GET /v1/templates/build/{buildID}/logs",
		"GET /v1/templates/build/{buildID}/status", "POST /v1/templates/files/upload-link", "DELETE /v1/templates/{templateID}"} {
		mux.HandleFunc(p, f.Authed(notSupported("template builds (import an image with `hutch image import` or POST /v1/images/import instead)")))
	}
}

func notSupported(what string) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%s are not supported by this server: %w", what, errdefs.ErrNotImplemented)
	}
}

// createRequest is HopX's create body. template_id accepts a string or a
// number.
type createRequest struct {
	TemplateID     flexibleID        `json:"template_id"`
	TemplateName   string            `json:"template_name"`
	Region         string            `json:"region"`
	TimeoutSeconds *int64            `json:"timeout_seconds"`
	InternetAccess *bool             `json:"internet_access"`
	EnvVars        map[string]string `json:"env_vars"`
	VCPU           *float64          `json:"vcpu"`
	MemoryMB       *int64            `json:"memory_mb"`
	DiskGB         *int64            `json:"disk_gb"`
}

// flexibleID is a JSON string or number.
type flexibleID string

func (id *flexibleID) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" {
		s = ""
	}
	*id = flexibleID(s)
	return nil
}

// image resolves the request's template to a Hutch image reference.
func (c createRequest) image() (name, image string, err error) {
	name = c.TemplateName
	field := "template_name"
	if name == "" {
		name, field = string(c.TemplateID), "template_id"
	}
	if name == "" {
		return "", "", errdefs.InvalidField("template_name", "template_name or template_id is required")
	}
	if img, ok := templates[name]; ok {
		return name, img, nil
	}
	if _, err := strconv.Atoi(name); err == nil {
		return "", "", fmt.Errorf("template %s not found (this server's templates are its images; GET /v1/templates lists them): %w",
			name, errdefs.ErrNotFound)
	}
	_ = field
	return name, name, nil
}

func (f *face) create(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	name, image, err := req.image()
	if err != nil {
		return err
	}
	cr := sandbox.CreateRequest{
		OrganizationID: gateway.Principal(r.Context()).OrganizationID,
		Image:          image, Template: name, Env: req.EnvVars, TimeoutSeconds: req.TimeoutSeconds,
		Internet: req.InternetAccess, CPU: req.VCPU, MemoryMB: req.MemoryMB, Wait: true,
	}
	if req.DiskGB != nil {
		mb := *req.DiskGB * 1024
		cr.DiskMB = &mb
	}
	sb, err := f.Sandboxes.Create(r.Context(), cr)
	if err != nil {
		return err
	}
	// The SDK's commands run in /workspace by default.
	if call, err := f.OpenAgent(r.Context(), sb.OrganizationID, sb.ID); err == nil {
		_, _ = call.Client.Mkdir(call.Context(), sb.ID, workspace, "")
		call.Close()
	}
	compat.WriteJSON(w, http.StatusCreated, f.withToken(f.body(r, sb)))
	return nil
}

// lookup finds a sandbox of the caller's organisation; a deleted one is
// gone for HopX (its SDK turns the 404 into SandboxExpiredError).
func (f *face) lookup(r *http.Request) (*sandbox.Sandbox, error) {
	sb, err := f.Sandboxes.Get(r.Context(), gateway.Principal(r.Context()).OrganizationID, r.PathValue("id"))
	if err == nil && sb.State == sandbox.StateDeleted {
		return nil, fmt.Errorf("sandbox %s not found (deleted): %w", sb.ID, errdefs.ErrSandboxNotFound)
	}
	return sb, err
}

func (f *face) get(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}

// listBody is HopX's page of sandboxes.
type listBody struct {
	Object     string        `json:"object"`
	Data       []sandboxBody `json:"data"`
	HasMore    bool          `json:"has_more"`
	NextCursor *string       `json:"next_cursor"`
	URL        string        `json:"url"`
	RequestID  string        `json:"request_id"`
}

func (f *face) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	size, err := compat.PageSize("limit", q.Get("limit"), 100, 1000)
	if err != nil {
		return err
	}
	page, err := compat.DecodeCursor("cursor", q.Get("cursor"))
	if err != nil {
		return err
	}
	filter := sandbox.ListFilter{OrganizationID: gateway.Principal(r.Context()).OrganizationID, Page: page, PageSize: size}
	if st := q.Get("status"); st != "" {
		for hs, word := range statuses {
			if word == st {
				filter.States = append(filter.States, hs)
			}
		}
		if len(filter.States) == 0 {
			return errdefs.InvalidField("status", "unknown status %q (creating, running, paused, stopped, error, deleted)", st)
		}
	}
	sbs, total, err := f.Sandboxes.List(r.Context(), filter)
	if err != nil {
		return err
	}
	out := listBody{Object: "list", Data: make([]sandboxBody, 0, len(sbs)), URL: "/v1/sandboxes", RequestID: gateway.RequestID(r.Context())}
	for _, sb := range sbs {
		out.Data = append(out.Data, f.body(r, sb))
	}
	if page*size < total {
		next := compat.EncodeCursor(page + 1)
		out.HasMore, out.NextCursor = true, &next
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// actionBody is the answer of pause, resume, stop, start and delete.
type actionBody struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Message   string `json:"message,omitempty"`
	RequestID string `json:"request_id"`
}

func (f *face) act(a sandbox.Action) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := compat.Decode(w, r, &struct{}{}); err != nil {
			return err
		}
		sb, err := f.Sandboxes.Act(r.Context(), gateway.Principal(r.Context()).OrganizationID, r.PathValue("id"), a,
			sandbox.ActOptions{Wait: true})
		if err != nil {
			return err
		}
		compat.WriteJSON(w, http.StatusOK, actionBody{ID: sb.ID, Status: statuses[sb.State], RequestID: gateway.RequestID(r.Context())})
		return nil
	}
}

func (f *face) remove(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.Sandboxes.Act(r.Context(), gateway.Principal(r.Context()).OrganizationID, r.PathValue("id"), sandbox.ActionDelete,
		sandbox.ActOptions{Wait: true})
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, actionBody{ID: sb.ID, Status: statuses[sb.State], Message: "sandbox deleted",
		RequestID: gateway.RequestID(r.Context())})
	return nil
}

func (f *face) setTimeout(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		TimeoutSeconds *int64 `json:"timeout_seconds"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.TimeoutSeconds == nil || *req.TimeoutSeconds <= 0 {
		return errdefs.InvalidField("timeout_seconds", "is required and must be greater than 0")
	}
	sb, err := f.Sandboxes.SetTimeout(r.Context(), gateway.Principal(r.Context()).OrganizationID, r.PathValue("id"), req.TimeoutSeconds)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}

func (f *face) refreshToken(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	b := f.withToken(f.body(r, sb))
	compat.WriteJSON(w, http.StatusOK, map[string]any{"id": sb.ID, "auth_token": b.AuthToken,
		"token_expires_at": b.TokenExpiresAt, "request_id": b.RequestID})
	return nil
}
