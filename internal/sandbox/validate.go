package sandbox

import (
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// CreateRequest is what a caller asks for; nil fields take the defaults.
type CreateRequest struct {
	OrganizationID string
	Name           string
	Image          string
	Template       string
	// Runtime chooses the sandbox's driver among Config.Runtimes; empty
	// takes Config.DefaultRuntime.
	Runtime            string
	Entrypoint         []string
	Env                map[string]string
	Metadata           map[string]string
	CPU                *float64
	MemoryMB           *int64
	DiskMB             *int64
	Pids               *int64
	TimeoutSeconds     *int64
	AutoStopMinutes    *int
	AutoPauseMinutes   *int
	AutoArchiveMinutes *int
	AutoDeleteMinutes  *int
	Internet           *bool
	AllowCIDRs         []string
	DenyCIDRs          []string
	AutoResume         bool
	// PauseReleaseAfterSeconds overrides the tiered pause's delay for
	// this sandbox (0: never); nil follows its organisation's default.
	PauseReleaseAfterSeconds *int64
	// Wait makes Create return only once the sandbox runs (or failed).
	Wait bool
	// NoPool makes the create boot its sandbox even when a warm pool
	// could serve it.
	NoPool bool
}

var (
	nameRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	metadataKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)
	envKeyRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Limits on free-form input, so one request cannot bloat the store.
const (
	maxMetadataEntries = 64
	maxMetadataValue   = 512
	maxEnvBytes        = 64 << 10
	maxEntrypointArgs  = 256
	maxImageRef        = 512
	maxCIDRs           = 64
	maxIntervalMinutes = 525600 // a year
)

// IDPrefix starts every sandbox ID; names may not start with it, so that a
// name can never shadow another sandbox's ID.
const IDPrefix = "sbx_"

func validateName(name string) error {
	if !nameRE.MatchString(name) {
		return errdefs.InvalidField("name", "must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if strings.HasPrefix(name, IDPrefix) {
		return errdefs.InvalidField("name", "must not start with %q", IDPrefix)
	}
	return nil
}

// ValidateMetadataKey and value rules are shared by create and patch.
func validateMetadata(field string, md map[string]string) error {
	if len(md) > maxMetadataEntries {
		return errdefs.InvalidField(field, "at most %d entries", maxMetadataEntries)
	}
	for k, v := range md {
		if err := validateMetadataEntry(field, k, v); err != nil {
			return err
		}
	}
	return nil
}

func validateMetadataEntry(field, k, v string) error {
	if !metadataKeyRE.MatchString(k) {
		return errdefs.InvalidField(field, "key %q must be 1-63 characters of letters, digits, '.', '_', '/' or '-'", k)
	}
	if len(v) > maxMetadataValue || strings.ContainsRune(v, 0) {
		return errdefs.InvalidField(field+"."+k, "value must be at most %d bytes without NUL", maxMetadataValue)
	}
	return nil
}

// resolve validates r and turns it into a new Sandbox record with every
// default applied.
func (c Config) resolve(r CreateRequest, now time.Time) (*Sandbox, error) {
	sb := &Sandbox{
		OrganizationID:     r.OrganizationID,
		Name:               r.Name,
		Image:              r.Image,
		Template:           r.Template,
		Entrypoint:         r.Entrypoint,
		Env:                r.Env,
		Metadata:           r.Metadata,
		Resources:          c.DefaultResources,
		Network:            Network{Internet: true, AllowCIDRs: r.AllowCIDRs, DenyCIDRs: r.DenyCIDRs},
		AutoResume:         r.AutoResume,
		AutoStopMinutes:    c.DefaultAutoStopMinutes,
		AutoPauseMinutes:   c.DefaultAutoPauseMinutes,
		AutoArchiveMinutes: c.DefaultAutoArchiveMinutes,
		AutoDeleteMinutes:  c.DefaultAutoDeleteMinutes,
	}
	if err := validatePauseReleaseAfter("pauseReleaseAfterSeconds", r.PauseReleaseAfterSeconds); err != nil {
		return nil, err
	}
	sb.PauseReleaseAfterSeconds = r.PauseReleaseAfterSeconds
	if err := c.resolveRuntime(sb, r.Runtime); err != nil {
		return nil, err
	}
	if sb.Name != "" {
		if err := validateName(sb.Name); err != nil {
			return nil, err
		}
	}
	if sb.Image == "" {
		sb.Image = c.DefaultImage
	}
	if len(sb.Image) > maxImageRef {
		return nil, errdefs.InvalidField("image", "must be at most %d characters", maxImageRef)
	}
	if _, err := image.Normalize(sb.Image); err != nil {
		return nil, errdefs.InvalidField("image", "%q is not an image reference such as python or ghcr.io/org/app:1.2", sb.Image)
	}
	if len(sb.Entrypoint) > maxEntrypointArgs {
		return nil, errdefs.InvalidField("entrypoint", "at most %d arguments", maxEntrypointArgs)
	}
	for _, a := range sb.Entrypoint {
		if strings.ContainsRune(a, 0) {
			return nil, errdefs.InvalidField("entrypoint", "arguments must not contain NUL")
		}
	}
	if err := validateEnv(sb.Env); err != nil {
		return nil, err
	}
	if err := validateMetadata("metadata", sb.Metadata); err != nil {
		return nil, err
	}
	if err := c.resolveResources(&sb.Resources, r); err != nil {
		return nil, err
	}
	if r.TimeoutSeconds != nil {
		if err := c.validateTimeout(*r.TimeoutSeconds); err != nil {
			return nil, err
		}
		t := *r.TimeoutSeconds
		exp := now.Add(time.Duration(t) * time.Second)
		sb.TimeoutSeconds, sb.ExpiresAt = &t, &exp
	}
	for _, iv := range []struct {
		field string
		in    *int
		out   *int
		min   int
	}{
		{"autoStopMinutes", r.AutoStopMinutes, &sb.AutoStopMinutes, 0},
		{"autoPauseMinutes", r.AutoPauseMinutes, &sb.AutoPauseMinutes, 0},
		{"autoArchiveMinutes", r.AutoArchiveMinutes, &sb.AutoArchiveMinutes, 0},
		{"autoDeleteMinutes", r.AutoDeleteMinutes, &sb.AutoDeleteMinutes, -1},
	} {
		if iv.in == nil {
			continue
		}
		if *iv.in < iv.min || *iv.in > maxIntervalMinutes {
			return nil, errdefs.InvalidField(iv.field, "must be between %d and %d", iv.min, maxIntervalMinutes)
		}
		*iv.out = *iv.in
	}
	if r.Internet != nil {
		sb.Network.Internet = *r.Internet
	}
	if err := validateNetwork(sb.Network); err != nil {
		return nil, err
	}
	if err := c.checkAllowed(sb.Network.AllowCIDRs); err != nil {
		return nil, err
	}
	return sb, nil
}

func (c Config) validateTimeout(secs int64) error {
	// Compare in seconds: secs*time.Second overflows for absurd values.
	if secs <= 0 || secs > int64(c.MaxTimeout/time.Second) {
		return errdefs.InvalidField("timeoutSeconds", "must be between 1 and %d", int64(c.MaxTimeout/time.Second))
	}
	return nil
}

func (c Config) resolveResources(res *Resources, r CreateRequest) error {
	m := c.MaxResources
	if r.CPU != nil {
		if !(*r.CPU >= minCPU && *r.CPU <= m.CPU) { // also rejects NaN
			return errdefs.InvalidField("resources.cpu", "must be between %v and %v (cores; %v is the smallest share the kernel enforces)", minCPU, m.CPU, minCPU)
		}
		res.CPU = *r.CPU
	}
	for _, f := range []struct {
		field    string
		in       *int64
		out      *int64
		min, max int64
	}{
		{"resources.memoryMB", r.MemoryMB, &res.MemoryMB, minMemoryMB, m.MemoryMB},
		{"resources.diskMB", r.DiskMB, &res.DiskMB, minDiskMB, m.DiskMB},
		{"resources.pids", r.Pids, &res.Pids, minPids, m.Pids},
	} {
		if f.in == nil {
			continue
		}
		if *f.in < f.min || *f.in > f.max {
			return errdefs.InvalidField(f.field, "must be between %d and %d", f.min, f.max)
		}
		*f.out = *f.in
	}
	return nil
}

func validateEnv(env map[string]string) error {
	size := 0
	for k, v := range env {
		if !envKeyRE.MatchString(k) {
			return errdefs.InvalidField("env", "name %q must be letters, digits and '_', not starting with a digit", k)
		}
		if strings.ContainsRune(v, 0) {
			return errdefs.InvalidField("env."+k, "value must not contain NUL")
		}
		size += len(k) + len(v) + 2
	}
	if size > maxEnvBytes {
		return errdefs.InvalidField("env", "at most %d bytes in all", maxEnvBytes)
	}
	return nil
}

func validateCIDRs(field string, cidrs []string) error {
	if len(cidrs) > maxCIDRs {
		return errdefs.InvalidField(field, "at most %d entries", maxCIDRs)
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err != nil || !p.Addr().Is4() {
			return errdefs.InvalidField(field, "%q is not an IPv4 CIDR such as 10.0.0.0/8", c)
		}
	}
	return nil
}
