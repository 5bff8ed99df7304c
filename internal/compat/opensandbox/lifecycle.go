package opensandbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// maxPageSize bounds pageSize; a larger one is served as this.
const maxPageSize = 200

func (f *face) registerLifecycle(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/sandboxes", f.Authed(f.create))
	mux.HandleFunc("GET /v1/sandboxes", f.Authed(f.list))
	mux.HandleFunc("GET /v1/sandboxes/{id}", f.Authed(f.get))
	mux.HandleFunc("DELETE /v1/sandboxes/{id}", f.Authed(f.delete))
	mux.HandleFunc("PATCH /v1/sandboxes/{id}/metadata", f.Authed(f.patchMetadata))
	mux.HandleFunc("POST /v1/sandboxes/{id}/pause", f.Authed(f.act(sandbox.ActionPause)))
	mux.HandleFunc("POST /v1/sandboxes/{id}/resume", f.Authed(f.act(sandbox.ActionResume)))
	mux.HandleFunc("POST /v1/sandboxes/{id}/renew-expiration", f.Authed(f.renew))
	mux.HandleFunc("GET /v1/sandboxes/{id}/endpoints/{port}", f.Authed(f.endpoint))
	mux.HandleFunc("POST /v1/sandboxes/{id}/snapshots", f.Authed(f.createSnapshot))
	mux.HandleFunc("GET /v1/snapshots", f.Authed(f.listSnapshots))
	mux.HandleFunc("GET /v1/snapshots/{snapshotId}", f.Authed(f.snapshot))
	mux.HandleFunc("DELETE /v1/snapshots/{snapshotId}", f.Authed(f.snapshot))
	mux.HandleFunc("POST /v1/metrics/events", f.Authed(f.metricsEvent))
}

func orgOf(r *http.Request) string { return gateway.Principal(r.Context()).OrganizationID }

// lookup returns a sandbox of the caller's organisation; a deleted one is
// gone, as OpenSandbox's are once deleted.
func (f *face) lookup(ctx context.Context, orgID, id string) (*sandbox.Sandbox, error) {
	sb, err := f.Sandboxes.Get(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	if sb.State == sandbox.StateDeleted {
		return nil, fmt.Errorf("sandbox %q not found: %w", id, errdefs.ErrSandboxNotFound)
	}
	return sb, nil
}

// lastTransition is the sandbox's last state event (nil if none could be
// read: the status then dates from the last update).
func (f *face) lastTransition(ctx context.Context, sb *sandbox.Sandbox) *sandbox.Event {
	evs, err := f.Sandboxes.Events(ctx, sb.OrganizationID, sb.ID)
	if err != nil {
		return nil
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == sandbox.EventState {
			return &evs[i]
		}
	}
	return nil
}

// noBody answers a 2xx without a body so that the SDK's openapi-fetch
// sees Content-Length: 0 (an empty body of unknown length makes it try to
// parse JSON and throw).
func noBody(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

func (f *face) create(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	cr, err := toCreate(orgOf(r), &req)
	if err != nil {
		return err
	}
	if a := req.Image.Auth; a != nil && (a.Username != "" || a.Password != "") {
		// A private image: fetch it now with the credentials, so that the
		// boot finds it in the cache.
		if _, err := f.Sandboxes.Images().Ensure(r.Context(), cr.OrganizationID, cr.Image, image.WithBasicAuth(a.Username, a.Password)); err != nil {
			return vendorImageError(err)
		}
	}
	sb, err := f.Sandboxes.Create(r.Context(), cr)
	if err != nil {
		return vendorField(err)
	}
	body := createBody{
		ID:         sb.ID,
		Status:     statusOf(sb, &sandbox.Event{Time: sb.CreatedAt, Cause: sandbox.CauseUser}),
		Metadata:   bodyOf(sb, nil).Metadata,
		ExpiresAt:  sb.ExpiresAt,
		CreatedAt:  sb.CreatedAt.UTC(),
		Entrypoint: bodyOf(sb, nil).Entrypoint,
	}
	body.Status.Message = "provisioning"
	w.Header().Set("Location", f.prefix+"/v1/sandboxes/"+sb.ID)
	compat.WriteJSON(w, http.StatusAccepted, body)
	return nil
}

// vendorImageError names image.uri in an image pull's refusal.
func vendorImageError(err error) error {
	if fe := vendorField(err); fe != err {
		return fe
	}
	return fmt.Errorf("image.auth: pulling with the given credentials: %w", err)
}

func (f *face) get(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r.Context(), orgOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, bodyOf(sb, f.lastTransition(r.Context(), sb)))
	return nil
}

type pagination struct {
	Page        int  `json:"page"`
	PageSize    int  `json:"pageSize"`
	TotalItems  int  `json:"totalItems"`
	TotalPages  int  `json:"totalPages"`
	HasNextPage bool `json:"hasNextPage"`
}

type listBody struct {
	Items      []sandboxBody `json:"items"`
	Pagination pagination    `json:"pagination"`
}

func (f *face) list(w http.ResponseWriter, r *http.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errdefs.InvalidField("query", "%v", err)
	}
	size, err := compat.PageSize("pageSize", q.Get("pageSize"), 20, maxPageSize)
	if err != nil {
		return err
	}
	page, err := compat.PageSize("page", q.Get("page"), 1, 1<<30)
	if err != nil {
		return err
	}
	filter := sandbox.ListFilter{OrganizationID: orgOf(r), Page: page, PageSize: size}
	none := false // the filter matches nothing (only Terminated asked; contradictory metadata)
	if words := q["state"]; len(words) > 0 {
		for _, word := range words {
			states, known := statesOf(word)
			if !known {
				return errdefs.InvalidField("state", "unknown state %q (Pending, Running, Pausing, Paused, Resuming, Stopping, Stopped, Failed, ...)", word)
			}
			filter.States = append(filter.States, states...)
		}
		none = len(filter.States) == 0
	}
	for _, raw := range q["metadata"] {
		pairs, err := metadataFilter(raw)
		if err != nil {
			return err
		}
		if filter.Metadata == nil {
			filter.Metadata = map[string]string{}
		}
		for _, kv := range pairs {
			if old, ok := filter.Metadata[kv[0]]; ok && old != kv[1] {
				none = true
			}
			filter.Metadata[kv[0]] = kv[1]
		}
	}
	body := listBody{Items: []sandboxBody{}, Pagination: pagination{Page: page, PageSize: size}}
	if !none {
		items, total, err := f.Sandboxes.List(r.Context(), filter)
		if err != nil {
			return err
		}
		for _, sb := range items {
			body.Items = append(body.Items, bodyOf(sb, f.lastTransition(r.Context(), sb)))
		}
		body.Pagination.TotalItems = total
		body.Pagination.TotalPages = (total + size - 1) / size
		body.Pagination.HasNextPage = page < body.Pagination.TotalPages
	}
	compat.WriteJSON(w, http.StatusOK, body)
	return nil
}

// metadataFilter reads one metadata query value, k=v pairs joined by &.
// The spec wants keys and values URL-encoded inside it; the SDK sends
// them raw. So each side is percent-decoded when it decodes, and kept as
// it is when not (a raw "%" survives); "+" stays a plus.
func metadataFilter(raw string) ([][2]string, error) {
	var out [][2]string
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, errdefs.InvalidField("metadata", "%q is not key=value", pair)
		}
		out = append(out, [2]string{unescape(k), unescape(v)})
	}
	return out, nil
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// delete removes the sandbox before answering, so that the next GET is
// already the 404 of a deleted sandbox (what the SDK's users check).
func (f *face) delete(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r.Context(), orgOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := f.Sandboxes.Act(r.Context(), sb.OrganizationID, sb.ID, sandbox.ActionDelete, sandbox.ActOptions{Wait: true}); err != nil {
		return err
	}
	noBody(w, http.StatusNoContent)
	return nil
}

// act pauses or resumes in the background and answers 202 at once, so
// that a poller sees Pausing or Resuming on the way.
func (f *face) act(action sandbox.Action) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		sb, err := f.lookup(r.Context(), orgOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		if _, err := f.Sandboxes.Act(r.Context(), sb.OrganizationID, sb.ID, action, sandbox.ActOptions{Wait: false}); err != nil {
			return err
		}
		noBody(w, http.StatusAccepted)
		return nil
	}
}

func (f *face) patchMetadata(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r.Context(), orgOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	var patch map[string]*string
	if err := compat.Decode(w, r, &patch); err != nil {
		return err
	}
	for k := range patch {
		if strings.HasPrefix(k, "opensandbox.io/") {
			return errdefs.InvalidField("metadata", "key %q: the opensandbox.io/ prefix is reserved", k)
		}
	}
	if len(patch) > 0 {
		if sb, err = f.Sandboxes.PatchMetadata(r.Context(), sb.OrganizationID, sb.ID, patch); err != nil {
			return err
		}
	}
	compat.WriteJSON(w, http.StatusOK, bodyOf(sb, f.lastTransition(r.Context(), sb)))
	return nil
}

type renewBody struct {
	ExpiresAt *time.Time `json:"expiresAt"`
}

func (f *face) renew(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r.Context(), orgOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	var req struct {
		ExpiresAt string `json:"expiresAt"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, req.ExpiresAt)
	if err != nil {
		return errdefs.InvalidField("expiresAt", "is required: the new expiry in RFC 3339, such as 2025-11-16T14:30:45Z (got %q)", req.ExpiresAt)
	}
	if sb, err = f.Sandboxes.RenewExpiration(r.Context(), sb.OrganizationID, sb.ID, at); err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, renewBody{ExpiresAt: sb.ExpiresAt})
	return nil
}

// endpointBody is the spec's Endpoint: host[:port]/path without a scheme.
type endpointBody struct {
	Endpoint string            `json:"endpoint"`
	Headers  map[string]string `json:"headers,omitempty"`
}

// endpoint hands out this server's own route to a sandbox port: execd on
// 44772, the port proxy on any other. Both take the API key in the
// OPEN-SANDBOX-API-KEY header the SDK sends everywhere. Every answer is
// server-proxied, so use_server_proxy changes nothing.
func (f *face) endpoint(w http.ResponseWriter, r *http.Request) error {
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil || sandbox.ValidatePort(port) != nil {
		return errdefs.InvalidField("port", "%q is not a port from 1 to 65535", r.PathValue("port"))
	}
	q := r.URL.Query()
	if v := q.Get("use_server_proxy"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return errdefs.InvalidField("use_server_proxy", "must be true or false, got %q", v)
		}
	}
	if q.Get("expires") != "" {
		return fmt.Errorf("expires: signed endpoints are not supported by this server: %w", errdefs.ErrNotImplemented)
	}
	sb, err := f.lookup(r.Context(), orgOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, endpointBody{Endpoint: f.portURL(r, sb.ID, port)})
	return nil
}

// portURL is where this face serves port of a sandbox, without a scheme.
func (f *face) portURL(r *http.Request, id string, port int) string {
	return compat.HostOnly(f.BaseURL(r)) + f.prefix + "/sandboxes/" + id + "/port/" + strconv.Itoa(port)
}

// Snapshots: Hutch has none yet. Listing them is honest (there are
// none); asking for one is its 404; making one is "not supported".
func (f *face) createSnapshot(w http.ResponseWriter, r *http.Request) error {
	if _, err := f.lookup(r.Context(), orgOf(r), r.PathValue("id")); err != nil {
		return err
	}
	return fmt.Errorf("snapshots are not supported by this server: %w", errdefs.ErrNotImplemented)
}

func (f *face) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	size, err := compat.PageSize("pageSize", r.URL.Query().Get("pageSize"), 20, maxPageSize)
	if err != nil {
		return err
	}
	page, err := compat.PageSize("page", r.URL.Query().Get("page"), 1, 1<<30)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"items": []any{}, "pagination": pagination{Page: page, PageSize: size}})
	return nil
}

func (f *face) snapshot(w http.ResponseWriter, r *http.Request) error {
	return fmt.Errorf("snapshot %q not found (this server makes no snapshots): %w", r.PathValue("snapshotId"), errdefs.ErrNotFound)
}

// metricsEvent takes the SDK's create-latency telemetry and drops it: it
// is fire-and-forget by the spec, and Hutch has its own measurements.
func (f *face) metricsEvent(w http.ResponseWriter, r *http.Request) error {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	noBody(w, http.StatusNoContent)
	return nil
}
