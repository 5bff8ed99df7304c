package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// CreateOrganization inserts org; a zero CreatedAt is set to now.
func (s *Store) CreateOrganization(ctx context.Context, org *auth.Organization) error {
	if org.CreatedAt.IsZero() {
		org.CreatedAt = time.Now()
	}
	org.CreatedAt = micro(org.CreatedAt)
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)`,
			org.ID, org.Name, org.CreatedAt)
		return err
	})
	if c, ok := violation(err, codeUnique); ok && c == "organizations_pkey" {
		return fmt.Errorf("organization %q: %w", org.ID, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("create organization %q: %w", org.ID, err)
	}
	return nil
}

// GetOrganization finds an organisation by ID.
func (s *Store) GetOrganization(ctx context.Context, id string) (*auth.Organization, error) {
	var org auth.Organization
	err := s.queryRow(ctx, func(row pgx.Row) error {
		return row.Scan(&org.ID, &org.Name, &org.CreatedAt)
	}, `SELECT id, name, created_at FROM organizations WHERE id = $1`, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("organization %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get organization %q: %w", id, err)
	}
	return &org, nil
}

// CountOrganizations says how many organisations exist, so that the server
// can tell a first start (bootstrap an admin) from a later one.
func (s *Store) CountOrganizations(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, func(row pgx.Row) error { return row.Scan(&n) },
		`SELECT count(*) FROM organizations`); err != nil {
		return 0, fmt.Errorf("count organizations: %w", err)
	}
	return n, nil
}

// CreateAPIKey inserts key. A reused ID or hash is errdefs.ErrAlreadyExists
// and an unknown organisation errdefs.ErrNotFound; a zero CreatedAt is set
// to now.
func (s *Store) CreateAPIKey(ctx context.Context, key *auth.APIKey) error {
	if key.CreatedAt.IsZero() {
		key.CreatedAt = time.Now()
	}
	key.CreatedAt, key.RevokedAt = micro(key.CreatedAt), microPtr(key.RevokedAt)
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_keys
			(id, organization_id, name, hash, prefix, admin, created_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			key.ID, key.OrganizationID, key.Name, key.Hash, key.Prefix, key.Admin, key.CreatedAt, key.RevokedAt)
		return err
	})
	if c, ok := violation(err, codeUnique); ok {
		if c == "api_keys_pkey" {
			return fmt.Errorf("api key %q: %w", key.ID, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("api key %q: hash in use: %w", key.ID, errdefs.ErrAlreadyExists)
	}
	if _, ok := violation(err, codeForeignKey); ok {
		return fmt.Errorf("api key %q: organization %q: %w", key.ID, key.OrganizationID, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("create api key %q: %w", key.ID, err)
	}
	return nil
}

// apiKeyColumns is the select list scanAPIKey reads.
const apiKeyColumns = `id, organization_id, name, hash, prefix, admin, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (*auth.APIKey, error) {
	var k auth.APIKey
	err := row.Scan(&k.ID, &k.OrganizationID, &k.Name, &k.Hash, &k.Prefix, &k.Admin, &k.CreatedAt, &k.RevokedAt)
	return &k, err
}

// GetAPIKeyByHash finds the key a request presents. A revoked key is not
// found, so that revocation takes effect on the next request, on every
// replica.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash string) (*auth.APIKey, error) {
	var k *auth.APIKey
	err := s.queryRow(ctx, func(row pgx.Row) (err error) {
		k, err = scanAPIKey(row)
		return err
	}, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("api key: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns orgID's keys oldest first, revoked ones included, so
// that an administrator sees what was revoked and when.
func (s *Store) ListAPIKeys(ctx context.Context, orgID string) ([]*auth.APIKey, error) {
	keys, err := query(ctx, s, func(row pgx.CollectableRow) (*auth.APIKey, error) { return scanAPIKey(row) },
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE organization_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes one of orgID's keys. Revoking twice keeps the first
// time and is not an error, so that a retried request succeeds; another
// organisation's key is not found.
func (s *Store) RevokeAPIKey(ctx context.Context, orgID, id string, at time.Time) error {
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1)
			WHERE id = $2 AND organization_id = $3`, micro(at), id, orgID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke api key %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("api key %q: %w", id, errdefs.ErrNotFound)
	}
	return nil
}
