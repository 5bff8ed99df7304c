package sandbox

import (
	"context"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// OrgSettings returns an organisation's defaults for new sandboxes.
func (s *Service) OrgSettings(ctx context.Context, orgID string) (*OrgSettings, error) {
	return s.store.GetOrgSettings(ctx, orgID)
}

// SetOrgSettings validates and stores an organisation's defaults; a nil
// field falls back to the server's default.
func (s *Service) SetOrgSettings(ctx context.Context, o *OrgSettings) error {
	if o.TimeoutSeconds != nil {
		if err := s.cfg.validateTimeout(*o.TimeoutSeconds); err != nil {
			return errdefs.InvalidField("defaultTimeoutSeconds", "%v", err)
		}
	}
	for _, f := range []struct {
		name string
		v    *int
		min  int
	}{
		{"defaultAutoStopMinutes", o.AutoStopMinutes, 0},
		{"defaultAutoPauseMinutes", o.AutoPauseMinutes, 0},
		{"defaultAutoArchiveMinutes", o.AutoArchiveMinutes, 0},
		{"defaultAutoDeleteMinutes", o.AutoDeleteMinutes, -1},
	} {
		if f.v != nil && (*f.v < f.min || *f.v > maxIntervalMinutes) {
			return errdefs.InvalidField(f.name, "must be between %d and %d", f.min, maxIntervalMinutes)
		}
	}
	if o.PauseMemory != nil {
		if err := o.PauseMemory.validate("defaultPauseMemory"); err != nil {
			return err
		}
		if *o.PauseMemory == "" {
			o.PauseMemory = nil
		}
	}
	if err := validatePauseReleaseAfter("pauseReleaseAfterSeconds", o.PauseReleaseAfterSeconds); err != nil {
		return err
	}
	if o.DefaultRuntime != nil {
		if *o.DefaultRuntime == "" {
			o.DefaultRuntime = nil
		} else if err := s.cfg.knownRuntime("defaultRuntime", *o.DefaultRuntime); err != nil {
			return err
		}
	}
	o.UpdatedAt = s.now().UTC()
	return s.store.PutOrgSettings(ctx, o)
}

// withOrgDefaults fills the fields a create request leaves out from its
// organisation's settings; what is still missing takes the server's
// defaults in Config.resolve. A request cannot tell an absent
// timeoutSeconds from null, so an organisation's default timeout applies
// to both.
func (s *Service) withOrgDefaults(ctx context.Context, r CreateRequest) (CreateRequest, error) {
	o, err := s.store.GetOrgSettings(ctx, r.OrganizationID)
	if err != nil {
		return r, err
	}
	if r.TimeoutSeconds == nil {
		r.TimeoutSeconds = o.TimeoutSeconds
	}
	if r.AutoStopMinutes == nil {
		r.AutoStopMinutes = o.AutoStopMinutes
	}
	if r.AutoPauseMinutes == nil {
		r.AutoPauseMinutes = o.AutoPauseMinutes
	}
	if r.AutoArchiveMinutes == nil {
		r.AutoArchiveMinutes = o.AutoArchiveMinutes
	}
	if r.AutoDeleteMinutes == nil {
		r.AutoDeleteMinutes = o.AutoDeleteMinutes
	}
	if o.UsePools != nil && !*o.UsePools {
		r.NoPool = true
	}
	if r.Runtime == "" && o.DefaultRuntime != nil {
		// A runtime the server no longer has (restarted without runsc)
		// is refused rather than swapped for a weaker one.
		if err := s.cfg.knownRuntime("defaultRuntime", *o.DefaultRuntime); err != nil {
			return r, err
		}
		r.Runtime = *o.DefaultRuntime
	}
	return r, nil
}
