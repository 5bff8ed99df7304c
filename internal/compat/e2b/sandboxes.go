package e2b

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// defaultTimeout is a sandbox's time to live when create names none:
// E2B's documented five minutes.
const defaultTimeout = 300

// maxRefresh bounds a refresh's duration, as E2B's spec does.
const maxRefresh = 3600

func orgOf(r *http.Request) string { return gateway.Principal(r.Context()).OrganizationID }

// lookup finds a sandbox of the caller's organisation; another
// organisation's, and one being deleted, is not found.
func (f *face) lookup(r *http.Request) (*sandbox.Sandbox, error) {
	id := r.PathValue("id")
	sb, err := f.Sandboxes.Get(r.Context(), orgOf(r), id)
	if err != nil {
		return nil, err
	}
	if gone(sb.State) {
		return nil, fmt.Errorf("sandbox %q not found: %w", id, errdefs.ErrSandboxNotFound)
	}
	return sb, nil
}

// newSandbox is E2B's NewSandbox (POST /sandboxes and /v2/sandboxes).
type newSandbox struct {
	TemplateID          string            `json:"templateID"`
	Timeout             *int64            `json:"timeout"`
	AutoPause           *bool             `json:"autoPause"`
	AutoPauseMemory     *bool             `json:"autoPauseMemory"`
	AutoResume          *autoResume       `json:"autoResume"`
	Secure              *bool             `json:"secure"`
	AllowInternetAccess *bool             `json:"allow_internet_access"`
	Network             *networkConfig    `json:"network"`
	Metadata            map[string]string `json:"metadata"`
	EnvVars             map[string]string `json:"envVars"`
	Mcp                 json.RawMessage   `json:"mcp"`
	Iam                 *struct {
		Tokens map[string]json.RawMessage `json:"tokens"`
	} `json:"iam"`
	VolumeMounts []json.RawMessage `json:"volumeMounts"`
}

type autoResume struct {
	Enabled bool `json:"enabled"`
}

// fieldNames turns the domain's field names into E2B's in a 400.
var fieldNames = map[string]string{
	"image":              "templateID",
	"env":                "envVars",
	"timeoutSeconds":     "timeout",
	"expiresAt":          "duration",
	"network.allowCIDRs": "network.allowOut",
	"network.denyCIDRs":  "network.denyOut",
}

// e2bField renames the field of a *errdefs.FieldError to E2B's.
func e2bField(err error) error {
	var fe *errdefs.FieldError
	if errors.As(err, &fe) {
		if name, ok := fieldNames[fe.Field]; ok {
			return &errdefs.FieldError{Field: name, Reason: fe.Reason}
		}
	}
	return err
}

// create makes a sandbox and answers once it runs: the SDK does not wait,
// it calls envd at once. autoPause (pause instead of kill at the
// timeout) has no Hutch equivalent yet and is accepted without effect,
// as are secure (envd always asks for the access token) and mcp (which
// only E2B's mcp-gateway template serves).
func (f *face) create(w http.ResponseWriter, r *http.Request) error {
	var req newSandbox
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if len(req.VolumeMounts) > 0 {
		return errdefs.InvalidField("volumeMounts", "volumes are not supported by this server")
	}
	if req.Iam != nil && len(req.Iam.Tokens) > 0 {
		return errdefs.InvalidField("iam.tokens", "workload identity tokens are not supported by this server")
	}
	if req.TemplateID == "" {
		req.TemplateID = "base"
	}
	ref, err := f.resolveTemplate(r, req.TemplateID)
	if err != nil {
		return err
	}
	allow, deny, err := req.Network.egress()
	if err != nil {
		return err
	}
	timeout := int64(defaultTimeout)
	if req.Timeout != nil {
		timeout = *req.Timeout
	}
	cr := sandbox.CreateRequest{OrganizationID: orgOf(r), Image: ref, Template: req.TemplateID,
		Env: req.EnvVars, Metadata: req.Metadata, TimeoutSeconds: &timeout, Internet: req.AllowInternetAccess,
		AllowCIDRs: allow, DenyCIDRs: deny, AutoResume: req.AutoResume != nil && req.AutoResume.Enabled, Wait: true}
	sb, err := f.Sandboxes.Create(r.Context(), cr)
	if err != nil {
		return e2bField(err)
	}
	compat.WriteJSON(w, http.StatusCreated, f.sandboxJSON(r, sb))
	return nil
}

func (f *face) get(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, f.detail(r, sb, true))
	return nil
}

// kill deletes the sandbox: 204, or 404 (the SDK's false) when there is
// none.
func (f *face) kill(w http.ResponseWriter, r *http.Request) error {
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if _, err := f.Sandboxes.Act(r.Context(), orgOf(r), sb.ID, sandbox.ActionDelete, sandbox.ActOptions{Wait: true}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// timeoutRequest is E2B's SandboxTimeoutRequest and ConnectSandbox.
type timeoutRequest struct {
	Timeout *int64 `json:"timeout"`
	Memory  *bool  `json:"memory"`
}

// setTimeout makes the sandbox expire timeout seconds from now, earlier
// or later than before.
func (f *face) setTimeout(w http.ResponseWriter, r *http.Request) error {
	var req timeoutRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.Timeout == nil {
		return errdefs.InvalidField("timeout", "is required (seconds from now)")
	}
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if _, err := f.Sandboxes.SetTimeout(r.Context(), orgOf(r), sb.ID, req.Timeout); err != nil {
		return e2bField(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refresh keeps the sandbox alive for duration seconds from now, unless
// it already lives longer.
func (f *face) refresh(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Duration *int64 `json:"duration"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	d := int64(defaultTimeout)
	if req.Duration != nil {
		d = *req.Duration
	}
	if d < 0 || d > maxRefresh {
		return errdefs.InvalidField("duration", "must be between 0 and %d seconds", maxRefresh)
	}
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if err := f.extend(r, sb, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// extend moves the expiry to secs from now when that is later than it is.
func (f *face) extend(r *http.Request, sb *sandbox.Sandbox, secs int64) error {
	at := time.Now().Add(time.Duration(secs) * time.Second)
	if secs == 0 || sb.ExpiresAt == nil || !at.After(*sb.ExpiresAt) {
		return nil
	}
	_, err := f.Sandboxes.RenewExpiration(r.Context(), orgOf(r), sb.ID, at)
	return e2bField(err)
}

// pause pauses a running sandbox (204); any other state is E2B's 409,
// which the SDK reads as "already paused". With memory: false E2B keeps
// only the filesystem: that is Hutch's stop, which connect undoes with a
// start.
func (f *face) pause(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Memory *bool `json:"memory"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if sb.State != sandbox.StateRunning {
		return fmt.Errorf("sandbox %s is not running (state %s): %w", sb.ID, sb.State, errdefs.ErrConflict)
	}
	action := sandbox.ActionPause
	if req.Memory != nil && !*req.Memory {
		action = sandbox.ActionStop
	}
	if _, err := f.Sandboxes.Act(r.Context(), orgOf(r), sb.ID, action, sandbox.ActOptions{Wait: true}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resume is E2B's deprecated resume: a paused sandbox runs again (201),
// a running one is a 409.
func (f *face) resume(w http.ResponseWriter, r *http.Request) error {
	var req timeoutRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if state(sb.State) == "running" {
		return fmt.Errorf("sandbox %s is already running: %w", sb.ID, errdefs.ErrConflict)
	}
	if sb, err = f.wake(r, sb, req); err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusCreated, f.sandboxJSON(r, sb))
	return nil
}

// connect answers a sandbox that runs: as it is (200), or woken (201).
// The access token is the one the sandbox always had, so an SDK object
// that keeps its token goes on working.
func (f *face) connect(w http.ResponseWriter, r *http.Request) error {
	var req timeoutRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.Timeout != nil && *req.Timeout < 0 {
		return errdefs.InvalidField("timeout", "must not be negative")
	}
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if state(sb.State) != "running" {
		if sb, err = f.wake(r, sb, req); err != nil {
			return err
		}
		status = http.StatusCreated
	} else if req.Timeout != nil {
		if err := f.extend(r, sb, *req.Timeout); err != nil {
			return err
		}
	}
	compat.WriteJSON(w, status, f.sandboxJSON(r, sb))
	return nil
}

// wake brings a sandbox E2B calls paused back to running: a Hutch pause
// is resumed with its memory, unless memory: false asks for a cold boot
// from the files (a stop, then a start); a stopped, archived or failed
// sandbox is started. A timeout moves the expiry, as on E2B's resume.
func (f *face) wake(r *http.Request, sb *sandbox.Sandbox, req timeoutRequest) (*sandbox.Sandbox, error) {
	org, ctx := orgOf(r), r.Context()
	wait := sandbox.ActOptions{Wait: true}
	var err error
	switch {
	case sb.State == sandbox.StatePaused && req.Memory != nil && !*req.Memory:
		if _, err = f.Sandboxes.Act(ctx, org, sb.ID, sandbox.ActionStop, wait); err == nil {
			sb, err = f.Sandboxes.Act(ctx, org, sb.ID, sandbox.ActionStart, wait)
		}
	case sb.State == sandbox.StatePaused || sb.State == sandbox.StatePausing:
		sb, err = f.Sandboxes.Act(ctx, org, sb.ID, sandbox.ActionResume, wait)
	default:
		sb, err = f.Sandboxes.Act(ctx, org, sb.ID, sandbox.ActionStart, wait)
	}
	if err != nil {
		return nil, err
	}
	if req.Timeout != nil && *req.Timeout > 0 {
		if sb, err = f.Sandboxes.SetTimeout(ctx, org, sb.ID, req.Timeout); err != nil {
			return nil, e2bField(err)
		}
	}
	return sb, nil
}

// updateNetwork replaces the sandbox's egress rules (E2B's
// SandboxNetworkUpdateConfig: omitted fields are cleared).
func (f *face) updateNetwork(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		networkConfig
		AllowInternetAccess *bool `json:"allow_internet_access"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	allow, deny, err := req.egress()
	if err != nil {
		return err
	}
	if req.AllowInternetAccess != nil && !*req.AllowInternetAccess {
		allow, deny = nil, []string{allTraffic}
	}
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if allow == nil {
		allow = []string{}
	}
	if deny == nil {
		deny = []string{}
	}
	if _, err := f.Sandboxes.SetNetwork(r.Context(), orgOf(r), sb.ID, sandbox.NetworkUpdate{AllowCIDRs: &allow, DenyCIDRs: &deny}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
