package daytona

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// Lifecycle actions answer at once with the sandbox in its transitional
// state (stopping, pausing, ...); the SDK polls GET /sandbox/{id} until it
// settles, as it does with Daytona.

// action applies a to the sandbox and answers it.
func (f *face) action(a sandbox.Action) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		org, sb, err := f.lookup(r)
		if err != nil {
			return err
		}
		var o sandbox.ActOptions
		if a == sandbox.ActionStop {
			if v := r.URL.Query().Get("force"); v != "" {
				if o.Force, err = strconv.ParseBool(v); err != nil {
					return errdefs.InvalidField("force", "must be true or false")
				}
			}
		}
		if sb, err = f.Sandboxes.Act(r.Context(), org, sb.ID, a, o); err != nil {
			return err
		}
		compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
		return nil
	}
}

// start starts a stopped, archived or failed sandbox and resumes a paused
// one: Daytona has one verb for both.
func (f *face) start(w http.ResponseWriter, r *http.Request) error {
	_, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	a := sandbox.ActionStart
	if sb.State == sandbox.StatePaused || sb.State == sandbox.StateResuming {
		a = sandbox.ActionResume
	}
	return f.action(a)(w, r)
}

// delete waits for the sandbox to be gone, so that the next GET is the
// 404 the SDK expects of a deleted sandbox.
func (f *face) delete(w http.ResponseWriter, r *http.Request) error {
	org, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if sb, err = f.Sandboxes.Act(r.Context(), org, sb.ID, sandbox.ActionDelete, sandbox.ActOptions{Wait: true}); err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}

// replaceLabels is PUT /sandbox/{id}/labels: the labels become exactly
// the body's.
func (f *face) replaceLabels(w http.ResponseWriter, r *http.Request) error {
	org, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	var body struct {
		Labels map[string]string `json:"labels"`
	}
	if err := compat.Decode(w, r, &body); err != nil {
		return err
	}
	if body.Labels == nil {
		return errdefs.InvalidField("labels", "is required")
	}
	patch := map[string]*string{}
	for k := range sb.Metadata {
		patch[k] = nil
	}
	for k, v := range body.Labels {
		patch[k] = &v
	}
	if sb, err = f.Sandboxes.PatchMetadata(r.Context(), org, sb.ID, patch); err != nil {
		return vendorField(err)
	}
	labels := sb.Metadata
	if labels == nil {
		labels = map[string]string{}
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"labels": labels})
	return nil
}

// minutes reads an interval from the path: a whole number of minutes.
func minutes(r *http.Request, param string) (int, error) {
	v := r.PathValue(param)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errdefs.InvalidField(param, "must be a whole number of minutes, got %q", v)
	}
	return n, nil
}

// setInterval sets one of the interval timers, which mean here what they
// mean in Daytona: auto-stop and auto-pause after that long idle (0 off;
// the pause keeps or releases memory as a pause without a body does, and
// the tiered pause may move it to disk later), auto-archive
// after that long stopped (0 off here, where Daytona takes its maximum),
// auto-delete after that long stopped (-1 never, 0 on stop).
func (f *face) setInterval(field string) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		org, sb, err := f.lookup(r)
		if err != nil {
			return err
		}
		n, err := minutes(r, "interval")
		if err != nil {
			return err
		}
		var iv sandbox.Intervals
		switch field {
		case "autoStopInterval":
			iv.AutoStopMinutes = &n
		case "autoPauseInterval":
			iv.AutoPauseMinutes = &n
		case "autoArchiveInterval":
			iv.AutoArchiveMinutes = &n
		case "autoDeleteInterval":
			if n < 0 {
				n = -1 // every negative value means never
			}
			iv.AutoDeleteMinutes = &n
		}
		if sb, err = f.Sandboxes.SetIntervals(r.Context(), org, sb.ID, iv); err != nil {
			return vendorField(err)
		}
		compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
		return nil
	}
}

// setTTL is Hutch's expiry: the sandbox is deleted that many minutes
// from now whatever its state; 0 removes it.
func (f *face) setTTL(w http.ResponseWriter, r *http.Request) error {
	org, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	n, err := minutes(r, "minutes")
	if err != nil {
		return err
	}
	if n < 0 {
		return errdefs.InvalidField("ttlMinutes", "must be 0 (none) or more minutes")
	}
	var secs *int64
	if n > 0 {
		s := int64(n) * 60
		secs = &s
	}
	if sb, err = f.Sandboxes.SetTimeout(r.Context(), org, sb.ID, secs); err != nil {
		return vendorField(err)
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}

// lastActivity records activity, which restarts the auto-stop timer.
func (f *face) lastActivity(w http.ResponseWriter, r *http.Request) error {
	_, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	if err := f.Sandboxes.Touch(r.Context(), sb); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// setPublic: false makes every port private again (Hutch's public ports
// are opened one at a time through the native API); true is not
// something Hutch does for a whole sandbox.
func (f *face) setPublic(w http.ResponseWriter, r *http.Request) error {
	org, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	public, err := strconv.ParseBool(r.PathValue("isPublic"))
	if err != nil {
		return errdefs.InvalidField("isPublic", "must be true or false")
	}
	if public {
		return notSupported("public: this server makes ports public one at a time (native API), not a whole sandbox")
	}
	for _, port := range sb.Network.PublicPorts {
		if sb, err = f.Sandboxes.SetPortPublic(r.Context(), org, sb.ID, port, false); err != nil {
			return err
		}
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}

// networkSettings changes the egress policy of a running (or stopped)
// sandbox: networkBlockAll is Hutch's internet switch, networkAllowList
// its allowed CIDRs.
func (f *face) networkSettings(w http.ResponseWriter, r *http.Request) error {
	org, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	var body struct {
		NetworkBlockAll  *bool   `json:"networkBlockAll"`
		NetworkAllowList *string `json:"networkAllowList"`
		DomainAllowList  *string `json:"domainAllowList"`
	}
	if err := compat.Decode(w, r, &body); err != nil {
		return err
	}
	if body.DomainAllowList != nil && *body.DomainAllowList != "" {
		return notSupported("domainAllowList: egress is filtered by CIDR (networkAllowList), not by domain")
	}
	var u sandbox.NetworkUpdate
	if body.NetworkBlockAll != nil {
		internet := !*body.NetworkBlockAll
		u.Internet = &internet
		if internet && body.NetworkAllowList == nil {
			// Daytona: lifting a block also clears a stored allow list.
			u.AllowCIDRs = &[]string{}
		}
	}
	if body.NetworkAllowList != nil {
		cidrs := cidrList(*body.NetworkAllowList)
		u.AllowCIDRs = &cidrs
	}
	if u.Internet == nil && u.AllowCIDRs == nil {
		return errdefs.InvalidField("networkBlockAll", "give networkBlockAll or networkAllowList")
	}
	if sb, err = f.Sandboxes.SetNetwork(r.Context(), org, sb.ID, u); err != nil {
		return vendorField(err)
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}

func (f *face) toolboxProxyURL(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := f.lookup(r); err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]string{"url": f.toolboxURL(r)})
	return nil
}

// previewURL is the address of a sandbox port on Hutch's port proxy: the
// host form {port}-{id}.{domain} when the server has a proxy domain,
// else the path form <server>/v1/sandboxes/{id}/ports/{port}/. The proxy
// takes the API key (Authorization: Bearer) or serves a public port
// without one; it has no per-sandbox preview token, so token is empty.
func (f *face) previewURL(w http.ResponseWriter, r *http.Request) error {
	_, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil {
		return errdefs.InvalidField("port", "%q is not a port number", r.PathValue("port"))
	}
	if err := sandbox.ValidatePort(port); err != nil {
		return err
	}
	base := f.BaseURL(r)
	u := base + "/v1/sandboxes/" + sb.ID + "/ports/" + strconv.Itoa(port) + "/"
	if host := f.SandboxHost(r, sb.ID, strconv.Itoa(port)); host != "" {
		scheme, _, _ := strings.Cut(base, "://")
		u = scheme + "://" + host + "/"
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"sandboxId": sb.ID, "url": u, "token": ""})
	return nil
}
