package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
)

// DefaultOrganizationID is the organisation created on first start. Its
// admin keys are platform administrators: only they create organisations.
const DefaultOrganizationID = "org_default"

// Principal is the caller behind a verified key.
type Principal struct {
	OrganizationID string
	KeyID          string
	Admin          bool // may manage the organisation's keys
}

// PlatformAdmin reports whether the caller may create organisations.
func (p Principal) PlatformAdmin() bool {
	return p.Admin && p.OrganizationID == DefaultOrganizationID
}

// Bootstrap creates the default organisation and its admin key on first
// start. secret is used as the key when set; otherwise one is generated.
// It returns the secret when it created a key, "" when the store already
// had an organisation (and then a given secret is added as a key only if it
// is not known yet, so HUTCH_API_KEY keeps working after a change).
func Bootstrap(ctx context.Context, st Store, secret string) (created string, err error) {
	n, err := st.CountOrganizations(ctx)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	if n == 0 {
		org := &Organization{ID: DefaultOrganizationID, Name: "default", CreatedAt: now}
		if err := st.CreateOrganization(ctx, org); err != nil {
			return "", fmt.Errorf("create default organization: %w", err)
		}
		if secret == "" {
			secret = NewSecret()
		}
		if _, err := addKey(ctx, st, org.ID, "bootstrap", secret, true); err != nil {
			return "", err
		}
		return secret, nil
	}
	if secret == "" {
		return "", nil
	}
	if _, err := st.GetAPIKeyByHash(ctx, Hash(secret)); err == nil {
		return "", nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return "", err
	}
	_, err = addKey(ctx, st, DefaultOrganizationID, "from-environment", secret, true)
	return "", err
}

// CreateOrganization makes an organisation and its first admin key, and
// returns the key's secret.
func CreateOrganization(ctx context.Context, st Store, name string) (*Organization, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, "", errdefs.InvalidField("name", "must be 1-100 characters")
	}
	org := &Organization{ID: ids.New("org_"), Name: name, CreatedAt: time.Now().UTC()}
	if err := st.CreateOrganization(ctx, org); err != nil {
		return nil, "", err
	}
	secret := NewSecret()
	if _, err := addKey(ctx, st, org.ID, "admin", secret, true); err != nil {
		return nil, "", err
	}
	return org, secret, nil
}

// CreateKey adds a key to an organisation and returns it with its secret.
func CreateKey(ctx context.Context, st Store, orgID, name string, admin bool) (*APIKey, string, error) {
	if len(name) > 100 {
		return nil, "", errdefs.InvalidField("name", "must be at most 100 characters")
	}
	secret := NewSecret()
	k, err := addKey(ctx, st, orgID, name, secret, admin)
	return k, secret, err
}

func addKey(ctx context.Context, st Store, orgID, name, secret string, admin bool) (*APIKey, error) {
	k := &APIKey{
		ID:             ids.New("key_"),
		OrganizationID: orgID,
		Name:           name,
		Hash:           Hash(secret),
		Prefix:         secret[:min(len(secret), 7)],
		Admin:          admin,
		CreatedAt:      time.Now().UTC(),
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return nil, fmt.Errorf("store api key: %w", err)
	}
	return k, nil
}

// Authenticate verifies a secret and returns who it belongs to.
func Authenticate(ctx context.Context, st Store, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, fmt.Errorf("missing API key (send Authorization: Bearer <key> or X-API-Key): %w", errdefs.ErrUnauthenticated)
	}
	k, err := st.GetAPIKeyByHash(ctx, Hash(secret))
	if errors.Is(err, errdefs.ErrNotFound) {
		return Principal{}, fmt.Errorf("invalid or revoked API key: %w", errdefs.ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{OrganizationID: k.OrganizationID, KeyID: k.ID, Admin: k.Admin}, nil
}
