// Package auth holds organisations and their API keys. Keys are random
// secrets shown once; only their SHA-256 hash is stored.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Organization owns sandboxes and API keys.
type Organization struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// APIKey is a stored key; the secret itself is never kept.
type APIKey struct {
	ID             string
	OrganizationID string
	Name           string
	Hash           string
	Prefix         string // first characters of the secret, to help people tell keys apart
	Admin          bool
	CreatedAt      time.Time
	RevokedAt      *time.Time
}

// Store is what auth needs from persistence.
type Store interface {
	CreateOrganization(ctx context.Context, org *Organization) error
	GetOrganization(ctx context.Context, id string) (*Organization, error)
	CountOrganizations(ctx context.Context) (int, error)
	CreateAPIKey(ctx context.Context, key *APIKey) error
	// GetAPIKeyByHash returns a key that is not revoked, or errdefs.ErrNotFound.
	GetAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	// ListAPIKeys returns an organisation's keys, revoked ones included.
	ListAPIKeys(ctx context.Context, orgID string) ([]*APIKey, error)
	// RevokeAPIKey marks a key of orgID revoked; unknown is errdefs.ErrNotFound.
	RevokeAPIKey(ctx context.Context, orgID, id string, at time.Time) error
}

// KeyPrefix starts every generated secret so that leaked keys are easy to
// recognise in logs and scanners.
const KeyPrefix = "hk_"

// NewSecret returns a fresh random API key secret.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash is how a secret is stored and looked up.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
