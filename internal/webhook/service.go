package webhook

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
)

// Service is the one door to an organisation's webhooks for every face:
// who may manage them, what a valid receiver URL is, and how ids and
// secrets are made.
type Service struct {
	store Store // nil: the server's store keeps no webhooks
	now   func() time.Time
}

// NewService returns the webhook door over st (nil refuses every call).
func NewService(st Store) *Service { return &Service{store: st, now: time.Now} }

func (s *Service) admin(p auth.Principal) (Store, error) {
	if s == nil || s.store == nil {
		return nil, fmt.Errorf("this server's store keeps no webhooks: %w", errdefs.ErrNotImplemented)
	}
	if !p.Admin {
		return nil, fmt.Errorf("this API key is not an admin key: %w", errdefs.ErrForbidden)
	}
	return s.store, nil
}

// List returns the caller's organisation's webhooks, oldest first.
func (s *Service) List(ctx context.Context, p auth.Principal) ([]*Webhook, error) {
	st, err := s.admin(p)
	if err != nil {
		return nil, err
	}
	return st.ListWebhooks(ctx, p.OrganizationID)
}

// Create registers a receiver for the caller's organisation; the answer
// carries its signing secret, which is shown only now.
func (s *Service) Create(ctx context.Context, p auth.Principal, rawURL string) (*Webhook, error) {
	st, err := s.admin(p)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(rawURL) > 2048 {
		return nil, errdefs.InvalidField("url", "must be an http or https URL of at most 2048 characters")
	}
	h := &Webhook{ID: ids.New("wh_"), OrganizationID: p.OrganizationID, URL: rawURL,
		Secret: "whsec_" + auth.NewSecret()[len(auth.KeyPrefix):], CreatedAt: s.now().UTC()}
	if err := st.CreateWebhook(ctx, h); err != nil {
		return nil, err
	}
	return h, nil
}

// Delete removes a webhook of the caller's organisation.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	st, err := s.admin(p)
	if err != nil {
		return err
	}
	return st.DeleteWebhook(ctx, p.OrganizationID, id)
}
