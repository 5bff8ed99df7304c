package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// update applies change to a sandbox under its lock and stores it with an
// event. change returns the event to log, or an error to abort.
func (s *Service) update(ctx context.Context, orgID, idOrName string, change func(sb *Sandbox, now time.Time) (Event, error)) (*Sandbox, error) {
	sb, err := s.Get(ctx, orgID, idOrName)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock(ctx, sb.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if sb, err = s.store.GetSandboxByID(ctx, sb.ID); err != nil {
		return nil, err
	}
	if sb.State == StateDeleted || sb.State == StateDeleting {
		return nil, &TransitionError{Action: "update", From: sb.State}
	}
	now := s.now().UTC()
	ev, err := change(sb, now)
	if err != nil {
		return nil, err
	}
	sb.UpdatedAt, sb.LastActivityAt = now, now
	ev.Time = now
	if err := s.store.UpdateSandbox(ctx, sb, ev); err != nil {
		return nil, fmt.Errorf("store %s: %w", sb.ID, err)
	}
	return sb, nil
}

// PatchMetadata merges patch into the metadata: a nil value removes the
// key (JSON merge patch).
func (s *Service) PatchMetadata(ctx context.Context, orgID, idOrName string, patch map[string]*string) (*Sandbox, error) {
	return s.update(ctx, orgID, idOrName, func(sb *Sandbox, now time.Time) (Event, error) {
		md := make(map[string]string, len(sb.Metadata)+len(patch))
		for k, v := range sb.Metadata {
			md[k] = v
		}
		for k, v := range patch {
			if v == nil {
				delete(md, k)
				continue
			}
			if err := validateMetadataEntry("metadata", k, *v); err != nil {
				return Event{}, err
			}
			md[k] = *v
		}
		if len(md) > maxMetadataEntries {
			return Event{}, errdefs.InvalidField("metadata", "at most %d entries", maxMetadataEntries)
		}
		sb.Metadata = md
		return Event{Type: "metadata", Cause: CauseUser}, nil
	})
}

// RenewExpiration moves expiresAt to at, which must be in the future and
// later than the current expiry.
func (s *Service) RenewExpiration(ctx context.Context, orgID, idOrName string, at time.Time) (*Sandbox, error) {
	return s.update(ctx, orgID, idOrName, func(sb *Sandbox, now time.Time) (Event, error) {
		at = at.UTC()
		if !at.After(now) {
			return Event{}, errdefs.InvalidField("expiresAt", "must be in the future (now is %s)", now.Format(time.RFC3339))
		}
		if sb.ExpiresAt != nil && !at.After(*sb.ExpiresAt) {
			return Event{}, errdefs.InvalidField("expiresAt", "must be later than the current expiry %s", sb.ExpiresAt.Format(time.RFC3339Nano))
		}
		if at.Sub(now) > s.cfg.MaxTimeout {
			return Event{}, errdefs.InvalidField("expiresAt", "must be within %s from now", s.cfg.MaxTimeout)
		}
		sb.ExpiresAt = &at
		return Event{Type: "expiration", Cause: CauseUser, Message: "expires at " + at.Format(time.RFC3339)}, nil
	})
}

// SetTimeout sets the expiry to seconds from now; nil removes it.
func (s *Service) SetTimeout(ctx context.Context, orgID, idOrName string, seconds *int64) (*Sandbox, error) {
	if seconds != nil {
		if err := s.cfg.validateTimeout(*seconds); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, orgID, idOrName, func(sb *Sandbox, now time.Time) (Event, error) {
		if seconds == nil {
			sb.TimeoutSeconds, sb.ExpiresAt = nil, nil
			return Event{Type: "expiration", Cause: CauseUser, Message: "no expiry"}, nil
		}
		t := *seconds
		exp := now.Add(time.Duration(t) * time.Second)
		sb.TimeoutSeconds, sb.ExpiresAt = &t, &exp
		return Event{Type: "expiration", Cause: CauseUser, Message: "expires at " + exp.Format(time.RFC3339)}, nil
	})
}

// Touch records activity on a sandbox, at most once a second per sandbox
// so that busy clients do not turn every read into a write.
func (s *Service) Touch(ctx context.Context, sb *Sandbox) error {
	now := s.now().UTC()
	if now.Sub(sb.LastActivityAt) < time.Second {
		return nil
	}
	sb.LastActivityAt = now
	return s.store.TouchSandbox(ctx, sb.ID, now)
}
