package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// CreateOrganization inserts org; a zero CreatedAt is set to now.
func (s *Store) CreateOrganization(ctx context.Context, org *auth.Organization) error {
	if org.CreatedAt.IsZero() {
		org.CreatedAt = time.Now().UTC()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)`,
			org.ID, org.Name, formatTime(org.CreatedAt))
		return err
	})
	if constraint(err) == codePrimaryKey {
		return fmt.Errorf("organization %q: %w", org.ID, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("create organization %q: %w", org.ID, err)
	}
	return nil
}

// GetOrganization finds an organisation by ID.
func (s *Store) GetOrganization(ctx context.Context, id string) (*auth.Organization, error) {
	var (
		org     auth.Organization
		created string
	)
	err := s.queryRow(ctx, `SELECT id, name, created_at FROM organizations WHERE id = ?`, id).
		Scan(&org.ID, &org.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("organization %q: %w", id, errdefs.ErrNotFound)
	}
	if err == nil {
		org.CreatedAt, err = parseTime(created)
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
	if err := s.queryRow(ctx, `SELECT count(*) FROM organizations`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count organizations: %w", err)
	}
	return n, nil
}

// CreateAPIKey inserts key. A reused ID or hash is errdefs.ErrAlreadyExists
// and an unknown organisation errdefs.ErrNotFound; a zero CreatedAt is set
// to now.
func (s *Store) CreateAPIKey(ctx context.Context, key *auth.APIKey) error {
	if key.CreatedAt.IsZero() {
		key.CreatedAt = time.Now().UTC()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys
			(id, organization_id, name, hash, prefix, admin, created_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			key.ID, key.OrganizationID, key.Name, key.Hash, key.Prefix, key.Admin,
			formatTime(key.CreatedAt), formatTimePtr(key.RevokedAt))
		return err
	})
	switch constraint(err) {
	case codePrimaryKey:
		return fmt.Errorf("api key %q: %w", key.ID, errdefs.ErrAlreadyExists)
	case codeUnique:
		return fmt.Errorf("api key %q: hash in use: %w", key.ID, errdefs.ErrAlreadyExists)
	case codeForeignKey:
		return fmt.Errorf("api key %q: organization %q: %w", key.ID, key.OrganizationID, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("create api key %q: %w", key.ID, err)
	}
	return nil
}

// apiKeyColumns is the select list scanAPIKey reads.
const apiKeyColumns = `id, organization_id, name, hash, prefix, admin, created_at, revoked_at`

func scanAPIKey(row scanner) (*auth.APIKey, error) {
	var (
		k       auth.APIKey
		created string
		revoked sql.NullString
	)
	err := row.Scan(&k.ID, &k.OrganizationID, &k.Name, &k.Hash, &k.Prefix, &k.Admin, &created, &revoked)
	if err != nil {
		return nil, err
	}
	if k.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if k.RevokedAt, err = parseTimePtr(revoked); err != nil {
		return nil, err
	}
	return &k, nil
}

// GetAPIKeyByHash finds the key a request presents. A revoked key is not
// found, so that revocation takes effect on the next request.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash string) (*auth.APIKey, error) {
	k, err := scanAPIKey(s.queryRow(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE organization_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var keys []*auth.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes one of orgID's keys. Revoking twice keeps the first
// time and is not an error, so that a retried request succeeds; another
// organisation's key is not found.
func (s *Store) RevokeAPIKey(ctx context.Context, orgID, id string, at time.Time) error {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)
			WHERE id = ? AND organization_id = ?`, formatTime(at), id, orgID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
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
