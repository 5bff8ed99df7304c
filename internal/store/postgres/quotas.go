package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// GetOrgQuota implements sandbox.QuotaStore.
func (s *Store) GetOrgQuota(ctx context.Context, orgID string) (*sandbox.OrgQuota, error) {
	out := &sandbox.OrgQuota{OrganizationID: orgID}
	err := s.queryRow(ctx, func(row pgx.Row) error {
		return row.Scan(&out.Sandboxes, &out.CPU, &out.MemoryMB, &out.DiskMB, &out.ImageMaxCompressedMB,
			&out.ImageMaxUnpackedMB, &out.UpdatedAt)
	}, `SELECT sandboxes, cpu, memory_mb, disk_mb, image_max_compressed_mb, image_max_unpacked_mb, updated_at
		FROM organization_quotas WHERE organization_id = $1`, orgID)
	if errors.Is(err, pgx.ErrNoRows) {
		return &sandbox.OrgQuota{OrganizationID: orgID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quota of %s: %w", orgID, err)
	}
	return out, nil
}

// PutOrgQuota implements sandbox.QuotaStore.
func (s *Store) PutOrgQuota(ctx context.Context, q *sandbox.OrgQuota) error {
	if q.UpdatedAt.IsZero() {
		q.UpdatedAt = time.Now()
	}
	q.UpdatedAt = micro(q.UpdatedAt)
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO organization_quotas (organization_id, sandboxes, cpu,
			memory_mb, disk_mb, image_max_compressed_mb, image_max_unpacked_mb, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (organization_id) DO UPDATE SET sandboxes = excluded.sandboxes, cpu = excluded.cpu,
			memory_mb = excluded.memory_mb, disk_mb = excluded.disk_mb,
			image_max_compressed_mb = excluded.image_max_compressed_mb,
			image_max_unpacked_mb = excluded.image_max_unpacked_mb, updated_at = excluded.updated_at`,
			q.OrganizationID, q.Sandboxes, q.CPU, q.MemoryMB, q.DiskMB,
			q.ImageMaxCompressedMB, q.ImageMaxUnpackedMB, q.UpdatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("put quota of %s: %w", q.OrganizationID, err)
	}
	return nil
}

// OrgUsage implements sandbox.QuotaStore through sandboxes_live_name,
// whose rows are an organisation's sandboxes that are not deleted.
func (s *Store) OrgUsage(ctx context.Context, orgID string) (sandbox.Usage, error) {
	var u sandbox.Usage
	err := s.queryRow(ctx, func(row pgx.Row) error {
		return row.Scan(&u.Sandboxes, &u.CPU, &u.MemoryMB, &u.DiskMB)
	}, `SELECT count(*), coalesce(sum(cpu), 0), coalesce(sum(memory_mb), 0)::bigint,
		coalesce(sum(disk_mb), 0)::bigint FROM sandboxes WHERE organization_id = $1 AND state <> 'deleted'`, orgID)
	if err != nil {
		return u, fmt.Errorf("usage of %s: %w", orgID, err)
	}
	return u, nil
}
