package daytona

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// controlRoutes are the control-plane API's routes.
func (f *face) controlRoutes(mux *http.ServeMux) {
	route := func(pattern string, h compat.HandlerFunc) { mux.Handle(pattern, f.Authed(h)) }
	for _, p := range []string{"GET /health", "GET /health/ready"} {
		mux.Handle(p, f.Serve(health))
	}
	route("POST /sandbox", f.create)
	route("GET /sandbox", f.list)
	route("GET /sandbox/paginated", f.listPaginated)
	route("GET /sandbox/{id}", f.get)
	route("DELETE /sandbox/{id}", f.delete)
	route("POST /sandbox/{id}/start", f.start)
	route("POST /sandbox/{id}/recover", f.start)
	route("POST /sandbox/{id}/stop", f.action(sandbox.ActionStop))
	route("POST /sandbox/{id}/pause", f.action(sandbox.ActionPause))
	route("POST /sandbox/{id}/archive", f.action(sandbox.ActionArchive))
	route("PUT /sandbox/{id}/labels", f.replaceLabels)
	route("POST /sandbox/{id}/autostop/{interval}", f.setInterval("autoStopInterval"))
	route("POST /sandbox/{id}/autoarchive/{interval}", f.setInterval("autoArchiveInterval"))
	route("POST /sandbox/{id}/autodelete/{interval}", f.setInterval("autoDeleteInterval"))
	route("POST /sandbox/{id}/autopause/{interval}", f.setInterval("autoPauseInterval"))
	route("POST /sandbox/{id}/ttl/{minutes}", f.setTTL)
	route("POST /sandbox/{id}/last-activity", f.lastActivity)
	route("POST /sandbox/{id}/public/{isPublic}", f.setPublic)
	route("POST /sandbox/{id}/network-settings", f.networkSettings)
	route("GET /sandbox/{id}/toolbox-proxy-url", f.toolboxProxyURL)
	route("GET /sandbox/{id}/ports/{port}/preview-url", f.previewURL)
	for _, p := range unsupportedControl {
		route(p, f.unsupported)
	}
}

// health answers like Daytona's API, without a key.
func health(w http.ResponseWriter, r *http.Request) error {
	compat.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	return nil
}

// organization is the caller's organisation. Daytona's SDK names one in
// X-Daytona-Organization-ID (with a JWT); here a key belongs to one
// organisation, and a header naming another is refused.
func organization(r *http.Request) (string, error) {
	org := gateway.Principal(r.Context()).OrganizationID
	if h := r.Header.Get("X-Daytona-Organization-ID"); h != "" && h != org {
		return "", fmt.Errorf("X-Daytona-Organization-ID %q is not the organization of this API key: %w", h, errdefs.ErrForbidden)
	}
	return org, nil
}

// createRequest is Daytona's CreateSandbox, as the SDK sends it.
type createRequest struct {
	Name      string `json:"name"`
	Snapshot  string `json:"snapshot"`
	BuildInfo *struct {
		DockerfileContent string `json:"dockerfileContent"`
	} `json:"buildInfo"`
	User                string            `json:"user"`
	Env                 map[string]string `json:"env"`
	Labels              map[string]string `json:"labels"`
	Public              bool              `json:"public"`
	NetworkBlockAll     *bool             `json:"networkBlockAll"`
	NetworkAllowList    *string           `json:"networkAllowList"`
	DomainAllowList     string            `json:"domainAllowList"`
	Target              string            `json:"target"`
	CPU                 *float64          `json:"cpu"`
	GPU                 float64           `json:"gpu"`
	Memory              *float64          `json:"memory"`
	Disk                *float64          `json:"disk"`
	AutoStopInterval    *int              `json:"autoStopInterval"`
	AutoPauseInterval   *int              `json:"autoPauseInterval"`
	AutoArchiveInterval *int              `json:"autoArchiveInterval"`
	AutoDeleteInterval  *int              `json:"autoDeleteInterval"`
	TTLMinutes          *int64            `json:"ttlMinutes"`
	Volumes             []any             `json:"volumes"`
	LinkedSandbox       string            `json:"linkedSandbox"`
	Secrets             []any             `json:"secrets"`
}

// fields turns the domain's field names into Daytona's, so that a 400
// names what the caller sent.
var fields = map[string]string{
	"image":              "snapshot",
	"metadata":           "labels",
	"resources.cpu":      "cpu",
	"resources.memoryMB": "memory",
	"resources.diskMB":   "disk",
	"autoStopMinutes":    "autoStopInterval",
	"autoPauseMinutes":   "autoPauseInterval",
	"autoArchiveMinutes": "autoArchiveInterval",
	"autoDeleteMinutes":  "autoDeleteInterval",
	"timeoutSeconds":     "ttlMinutes",
	"network.allowCIDRs": "networkAllowList",
}

// vendorField renames the field of a FieldError into Daytona's words.
func vendorField(err error) error {
	var fe *errdefs.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	name, rest, _ := strings.Cut(fe.Field, ".")
	if v, ok := fields[fe.Field]; ok {
		return &errdefs.FieldError{Field: v, Reason: fe.Reason}
	}
	if v, ok := fields[name]; ok && rest != "" {
		return &errdefs.FieldError{Field: v + "." + rest, Reason: fe.Reason}
	}
	return err
}

// notSupported is a Daytona feature Hutch does not have: 501, as
// Daytona's API answers what it does not implement.
func notSupported(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrNotImplemented)...)
}

// imageOf picks the Hutch image of a create: the snapshot's name, or
// the base image of a Dockerfile that is only a FROM line (the SDK's
// Image.base). Building images is not something Hutch does.
func (c createRequest) imageOf() (string, error) {
	if c.BuildInfo == nil {
		return c.Snapshot, nil
	}
	if c.Snapshot != "" {
		return "", errdefs.InvalidField("snapshot", "give a snapshot or an image, not both")
	}
	var from string
	sc := bufio.NewScanner(strings.NewReader(c.BuildInfo.DockerfileContent))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		if !strings.EqualFold(word, "FROM") || from != "" {
			return "", notSupported("building an image (Dockerfile line %q) is not supported; give an image that exists, such as Image.base(\"python:3.12\")", line)
		}
		from = strings.TrimSpace(rest)
		if strings.Contains(from, " ") {
			return "", notSupported("FROM with options (%q) is not supported", from)
		}
	}
	if from == "" {
		return "", errdefs.InvalidField("buildInfo.dockerfileContent", "has no FROM line")
	}
	return from, nil
}

// request turns a create into the domain's request, refusing what Hutch
// cannot honour rather than dropping it.
func (c createRequest) request(org string) (sandbox.CreateRequest, error) {
	req := sandbox.CreateRequest{OrganizationID: org, Name: c.Name, Env: c.Env, Metadata: c.Labels,
		CPU: c.CPU, AutoStopMinutes: c.AutoStopInterval, AutoPauseMinutes: c.AutoPauseInterval,
		AutoArchiveMinutes: c.AutoArchiveInterval, AutoDeleteMinutes: c.AutoDeleteInterval}
	img, err := c.imageOf()
	if err != nil {
		return req, err
	}
	req.Image = img
	switch {
	case c.User != "" && c.User != user:
		return req, notSupported("user %q: sandboxes here run their commands as %s", c.User, user)
	case c.GPU > 0:
		return req, notSupported("gpu: this server has no GPUs")
	case c.Public:
		return req, notSupported("public: this server makes ports public one at a time (native API), not a whole sandbox")
	case c.DomainAllowList != "":
		return req, notSupported("domainAllowList: egress is filtered by CIDR (networkAllowList), not by domain")
	case len(c.Volumes) > 0:
		return req, notSupported("volumes are not supported")
	case c.LinkedSandbox != "":
		return req, notSupported("linkedSandbox is not supported")
	case len(c.Secrets) > 0:
		return req, notSupported("secrets are not supported")
	}
	for _, g := range []struct {
		field string
		in    *float64
		out   **int64
	}{{"memory", c.Memory, &req.MemoryMB}, {"disk", c.Disk, &req.DiskMB}} {
		if g.in == nil {
			continue
		}
		if !(*g.in > 0) {
			return req, errdefs.InvalidField(g.field, "must be a positive number of GiB")
		}
		mb := int64(*g.in * gib)
		*g.out = &mb
	}
	if c.TTLMinutes != nil && *c.TTLMinutes > 0 {
		s := *c.TTLMinutes * 60
		req.TimeoutSeconds = &s
	}
	if c.NetworkBlockAll != nil {
		internet := !*c.NetworkBlockAll
		req.Internet = &internet
	}
	if c.NetworkAllowList != nil {
		req.AllowCIDRs = cidrList(*c.NetworkAllowList)
	}
	return req, nil
}

// cidrList splits Daytona's comma-separated allow list.
func cidrList(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// create stores the sandbox and boots it in the background: the answer
// says creating and the SDK polls until started, as with Daytona.
func (f *face) create(w http.ResponseWriter, r *http.Request) error {
	org, err := organization(r)
	if err != nil {
		return err
	}
	var c createRequest
	if err := compat.Decode(w, r, &c); err != nil {
		return err
	}
	req, err := c.request(org)
	if err != nil {
		return err
	}
	sb, err := f.Sandboxes.Create(r.Context(), req)
	if err != nil {
		return vendorField(err)
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}

// lookup finds a sandbox of the caller's organisation; a deleted one is
// gone, as Daytona's API no longer finds a destroyed sandbox.
func (f *face) lookup(r *http.Request) (org string, sb *sandbox.Sandbox, err error) {
	if org, err = organization(r); err != nil {
		return "", nil, err
	}
	id := r.PathValue("id")
	if sb, err = f.Sandboxes.Get(r.Context(), org, id); err != nil {
		return "", nil, err
	}
	if sb.State == sandbox.StateDeleted {
		return "", nil, fmt.Errorf("sandbox %q not found: %w", id, errdefs.ErrSandboxNotFound)
	}
	return org, sb, nil
}

func (f *face) get(w http.ResponseWriter, r *http.Request) error {
	_, sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, f.body(r, sb))
	return nil
}
