package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Intervals changes a sandbox's interval timers after create; nil keeps a
// setting. The bounds are create's: auto-stop and auto-archive 0 (off) or
// more minutes (auto-pause too), auto-delete -1 (never), 0 (on stop) or more.
type Intervals struct {
	AutoStopMinutes    *int
	AutoPauseMinutes   *int
	AutoArchiveMinutes *int
	AutoDeleteMinutes  *int
}

// SetIntervals applies iv to a sandbox of orgID. Like every update it
// counts as activity, so a timer set now runs from now.
func (s *Service) SetIntervals(ctx context.Context, orgID, idOrName string, iv Intervals) (*Sandbox, error) {
	for _, f := range []struct {
		field string
		v     *int
		min   int
	}{
		{"autoStopMinutes", iv.AutoStopMinutes, 0},
		{"autoPauseMinutes", iv.AutoPauseMinutes, 0},
		{"autoArchiveMinutes", iv.AutoArchiveMinutes, 0},
		{"autoDeleteMinutes", iv.AutoDeleteMinutes, -1},
	} {
		if f.v != nil && (*f.v < f.min || *f.v > maxIntervalMinutes) {
			return nil, errdefs.InvalidField(f.field, "must be between %d and %d", f.min, maxIntervalMinutes)
		}
	}
	return s.update(ctx, orgID, idOrName, func(sb *Sandbox, now time.Time) (Event, error) {
		set := func(dst *int, v *int) {
			if v != nil {
				*dst = *v
			}
		}
		set(&sb.AutoStopMinutes, iv.AutoStopMinutes)
		set(&sb.AutoPauseMinutes, iv.AutoPauseMinutes)
		set(&sb.AutoArchiveMinutes, iv.AutoArchiveMinutes)
		set(&sb.AutoDeleteMinutes, iv.AutoDeleteMinutes)
		return Event{Type: "intervals", Cause: CauseUser, Message: fmt.Sprintf("auto-stop %d, auto-pause %d, auto-archive %d, auto-delete %d minutes",
			sb.AutoStopMinutes, sb.AutoPauseMinutes, sb.AutoArchiveMinutes, sb.AutoDeleteMinutes)}, nil
	})
}
