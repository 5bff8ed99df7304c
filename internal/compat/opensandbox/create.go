package opensandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// createRequest is the spec's CreateSandboxRequest.
type createRequest struct {
	Image *struct {
		URI  string `json:"uri"`
		Auth *struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auth"`
	} `json:"image"`
	SnapshotID       *string           `json:"snapshotId"`
	Platform         *platformSpec     `json:"platform"`
	Timeout          *int64            `json:"timeout"`
	ResourceLimits   map[string]string `json:"resourceLimits"`
	ResourceRequests map[string]string `json:"resourceRequests"`
	Env              map[string]string `json:"env"`
	Metadata         map[string]string `json:"metadata"`
	Entrypoint       []string          `json:"entrypoint"`
	NetworkPolicy    *networkPolicy    `json:"networkPolicy"`
	CredentialProxy  *struct {
		Enabled bool `json:"enabled"`
	} `json:"credentialProxy"`
	SecureAccess bool              `json:"secureAccess"`
	Volumes      []json.RawMessage `json:"volumes"`
	Extensions   map[string]string `json:"extensions"`
}

type platformSpec struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

type networkPolicy struct {
	DefaultAction string `json:"defaultAction"`
	Egress        []struct {
		Action string `json:"action"`
		Target string `json:"target"`
	} `json:"egress"`
}

// minTimeout is the spec's minimum sandbox timeout.
const minTimeout = 60

// renewExtension is the one well-known extension key: it is checked the
// way the spec says (300..86400) though Hutch does not renew on access.
const renewExtension = "access.renew.extend.seconds"

// toCreate turns the vendor request into Hutch's, refusing what Hutch
// cannot honour with the field named.
func toCreate(orgID string, req *createRequest) (sandbox.CreateRequest, error) {
	out := sandbox.CreateRequest{OrganizationID: orgID, Env: req.Env, Metadata: req.Metadata, Entrypoint: req.Entrypoint}
	switch {
	case req.SnapshotID != nil && req.Image != nil:
		return out, errdefs.InvalidField("snapshotId", "give either image or snapshotId, not both")
	case req.SnapshotID != nil:
		return out, fmt.Errorf("snapshotId: restoring from snapshots is not supported by this server: %w", errdefs.ErrNotImplemented)
	case req.Image == nil:
		return out, errdefs.InvalidField("image", "is required (image.uri, such as python:3.11)")
	case strings.TrimSpace(req.Image.URI) == "":
		return out, errdefs.InvalidField("image.uri", "is required, such as python:3.11")
	}
	out.Image = req.Image.URI
	for k := range req.Metadata {
		if strings.HasPrefix(k, "opensandbox.io/") {
			return out, errdefs.InvalidField("metadata", "key %q: the opensandbox.io/ prefix is reserved", k)
		}
	}
	if req.Timeout != nil {
		if *req.Timeout < minTimeout {
			return out, errdefs.InvalidField("timeout", "must be at least %d seconds, or null for no expiry", minTimeout)
		}
		out.TimeoutSeconds = req.Timeout
	}
	if err := applyLimits(&out, req.ResourceLimits); err != nil {
		return out, err
	}
	if err := applyNetwork(&out, req.NetworkPolicy); err != nil {
		return out, err
	}
	if p := req.Platform; p != nil {
		if p.OS != "linux" || p.Arch != goruntime.GOARCH {
			return out, errdefs.InvalidField("platform", "%s/%s cannot be satisfied: this server runs linux/%s", p.OS, p.Arch, goruntime.GOARCH)
		}
	}
	if len(req.Volumes) > 0 {
		return out, fmt.Errorf("volumes: mounting volumes is not supported by this server: %w", errdefs.ErrNotImplemented)
	}
	if req.CredentialProxy != nil && req.CredentialProxy.Enabled {
		return out, fmt.Errorf("credentialProxy: the credential vault proxy is not supported by this server: %w", errdefs.ErrNotImplemented)
	}
	if v, ok := req.Extensions[renewExtension]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 300 || n > 86400 {
			return out, errdefs.InvalidField("extensions."+renewExtension, "must be a decimal number of seconds from 300 to 86400, got %q", v)
		}
	}
	return out, nil
}

// applyLimits reads resourceLimits the Kubernetes way: cpu in cores or
// millicores ("500m", "1.5"), memory and ephemeral-storage in bytes with
// an optional binary or decimal suffix ("512Mi", "1Gi", "500M"). A GPU
// cannot be given; keys of other resources are accepted and ignored, as
// the spec lets new ones appear.
func applyLimits(out *sandbox.CreateRequest, limits map[string]string) error {
	for key, v := range limits {
		field := "resourceLimits." + key
		switch strings.ToLower(key) {
		case "cpu":
			cpu, err := parseCPU(v)
			if err != nil {
				return errdefs.InvalidField(field, "%v", err)
			}
			out.CPU = &cpu
		case "memory":
			mb, err := parseMiB(v)
			if err != nil {
				return errdefs.InvalidField(field, "%v", err)
			}
			out.MemoryMB = &mb
		case "ephemeral-storage", "disk", "storage":
			mb, err := parseMiB(v)
			if err != nil {
				return errdefs.InvalidField(field, "%v", err)
			}
			out.DiskMB = &mb
		case "pids":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errdefs.InvalidField(field, "%q is not a number of processes", v)
			}
			out.Pids = &n
		case "gpu", "nvidia.com/gpu":
			if n, err := strconv.Atoi(v); err != nil || n != 0 {
				return errdefs.InvalidField(field, "this server has no GPUs to give (%q asked)", v)
			}
		}
	}
	return nil
}

// parseCPU reads "500m" (millicores) or "1", "0.5" (cores).
func parseCPU(v string) (float64, error) {
	s := strings.TrimSpace(v)
	scale := 1.0
	if m, ok := strings.CutSuffix(s, "m"); ok {
		s, scale = m, 1000
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return 0, fmt.Errorf("%q is not a CPU amount such as \"500m\" or \"1\"", v)
	}
	return n / scale, nil
}

var byteSuffixes = []struct {
	suffix string
	factor float64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// parseMiB reads a Kubernetes quantity of bytes and rounds it up to MiB.
func parseMiB(v string) (int64, error) {
	s := strings.TrimSpace(v)
	factor := 1.0
	for _, b := range byteSuffixes {
		if n, ok := strings.CutSuffix(s, b.suffix); ok {
			s, factor = n, b.factor
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return 0, fmt.Errorf("%q is not an amount of memory such as \"512Mi\" or \"1Gi\"", v)
	}
	mib := math.Ceil(n * factor / (1 << 20))
	if mib > math.MaxInt32 {
		return 0, fmt.Errorf("%q is more than this server can give", v)
	}
	return int64(mib), nil
}

// applyNetwork maps the egress policy onto Hutch's: deny by default with
// allow rules is an allow list, allow by default with deny rules a deny
// list, deny with no rules no internet. Hutch filters by address, so a
// rule's target must be an IPv4 address or CIDR; domain names are
// refused rather than ignored.
func applyNetwork(out *sandbox.CreateRequest, p *networkPolicy) error {
	if p == nil || (p.DefaultAction == "" && len(p.Egress) == 0) {
		return nil
	}
	deny := p.DefaultAction != "allow"
	if p.DefaultAction != "" && p.DefaultAction != "allow" && p.DefaultAction != "deny" {
		return errdefs.InvalidField("networkPolicy.defaultAction", "must be allow or deny, got %q", p.DefaultAction)
	}
	var allow, block []string
	for i, rule := range p.Egress {
		field := fmt.Sprintf("networkPolicy.egress[%d]", i)
		cidr, err := toCIDR(rule.Target)
		if err != nil {
			return errdefs.InvalidField(field+".target", "%v", err)
		}
		switch rule.Action {
		case "allow":
			allow = append(allow, cidr)
		case "deny":
			block = append(block, cidr)
		default:
			return errdefs.InvalidField(field+".action", "must be allow or deny, got %q", rule.Action)
		}
	}
	internet := true
	switch {
	case deny && len(allow) == 0:
		internet = false
	case deny:
		out.AllowCIDRs = allow
	}
	out.DenyCIDRs = block
	out.Internet = &internet
	return nil
}

var errDomainTarget = errors.New("domain names cannot be filtered here; give an IPv4 address or CIDR such as 10.0.0.0/8")

func toCIDR(target string) (string, error) {
	if p, err := netip.ParsePrefix(target); err == nil && p.Addr().Is4() {
		return p.String(), nil
	}
	if a, err := netip.ParseAddr(target); err == nil && a.Is4() {
		return a.String() + "/32", nil
	}
	return "", fmt.Errorf("%q: %w", target, errDomainTarget)
}

// vendorFields name, in the vendor's words, the fields the lifecycle
// service validates under its own names.
var vendorFields = map[string]string{
	"image":              "image.uri",
	"timeoutSeconds":     "timeout",
	"resources.cpu":      "resourceLimits.cpu",
	"resources.memoryMB": "resourceLimits.memory",
	"resources.diskMB":   "resourceLimits.ephemeral-storage",
	"resources.pids":     "resourceLimits.pids",
	"network.allowCIDRs": "networkPolicy.egress",
	"network.denyCIDRs":  "networkPolicy.egress",
}

// vendorField renames the field of a validation error (400) or of a
// limit the create would pass (403) from the service.
func vendorField(err error) error {
	var fe *errdefs.FieldError
	var le *sandbox.LimitError
	switch {
	case errors.As(err, &fe):
		if name, ok := vendorFields[fe.Field]; ok {
			reason := fe.Reason
			if strings.HasSuffix(fe.Field, "MB") {
				reason += " (MiB)"
			}
			return &errdefs.FieldError{Field: name, Reason: reason}
		}
	case errors.As(err, &le):
		if name, ok := vendorFields[le.Field]; ok {
			return &sandbox.LimitError{Field: name, Reason: le.Reason}
		}
	}
	return err
}
