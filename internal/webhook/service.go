package webhook

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/egress"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
)

// Service is the one door to an organisation's webhooks for every face:
// who may manage them, what a valid receiver URL is, and how ids and
// secrets are made.
type Service struct {
	store  Store // nil: the server's store keeps no webhooks
	egress *egress.Guard
	now    func() time.Time
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithEgress sets the guard that receiver URLs are checked against; the
// dispatcher must dial through the same one. Without it every internal
// address is refused.
func WithEgress(g *egress.Guard) ServiceOption { return func(s *Service) { s.egress = g } }

// NewService returns the webhook door over st (nil refuses every call).
func NewService(st Store, opts ...ServiceOption) *Service {
	s := &Service{store: st, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

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
// carries its signing secret, which is shown only now. A URL whose host is
// an internal address written out (127.0.0.1, 0x7f000001, [::1],
// localhost) is refused here; a name that resolves to one is refused by
// the dispatcher's dialer at each delivery.
func (s *Service) Create(ctx context.Context, p auth.Principal, rawURL string) (*Webhook, error) {
	st, err := s.admin(p)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(rawURL) > 2048 {
		return nil, errdefs.InvalidField("url", "must be an http or https URL of at most 2048 characters")
	}
	if err := s.egress.CheckURL(Purpose, u); err != nil {
		return nil, err
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

// Deliveries returns the recent attempts to deliver to a webhook of the
// caller's organisation, newest first (at most AttemptsKept).
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, id string) ([]*Attempt, error) {
	st, err := s.admin(p)
	if err != nil {
		return nil, err
	}
	return st.ListAttempts(ctx, p.OrganizationID, id)
}
