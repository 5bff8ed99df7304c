package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// GetOrgQuota implements sandbox.QuotaStore.
func (s *Store) GetOrgQuota(ctx context.Context, orgID string) (*sandbox.OrgQuota, error) {
	out := &sandbox.OrgQuota{OrganizationID: orgID}
	var (
		sandboxes, mem, disk       sql.NullInt64
		imgCompressed, imgUnpacked sql.NullInt64
		cpu                        sql.NullFloat64
		updated                    string
	)
	err := s.r.QueryRowContext(ctx, `SELECT sandboxes, cpu, memory_mb, disk_mb, image_max_compressed_mb,
		image_max_unpacked_mb, updated_at FROM organization_quotas WHERE organization_id = ?`, orgID).
		Scan(&sandboxes, &cpu, &mem, &disk, &imgCompressed, &imgUnpacked, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quota of %s: %w", orgID, err)
	}
	if cpu.Valid {
		out.CPU = &cpu.Float64
	}
	for _, f := range []struct {
		v   sql.NullInt64
		dst **int64
	}{{sandboxes, &out.Sandboxes}, {mem, &out.MemoryMB}, {disk, &out.DiskMB},
		{imgCompressed, &out.ImageMaxCompressedMB}, {imgUnpacked, &out.ImageMaxUnpackedMB}} {
		if f.v.Valid {
			n := f.v.Int64
			*f.dst = &n
		}
	}
	if out.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, fmt.Errorf("quota of %s: %w", orgID, err)
	}
	return out, nil
}

// PutOrgQuota implements sandbox.QuotaStore.
func (s *Store) PutOrgQuota(ctx context.Context, q *sandbox.OrgQuota) error {
	if q.UpdatedAt.IsZero() {
		q.UpdatedAt = time.Now().UTC()
	}
	orNil := func(p *int64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	var cpu any
	if q.CPU != nil {
		cpu = *q.CPU
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organization_quotas (organization_id, sandboxes, cpu,
			memory_mb, disk_mb, image_max_compressed_mb, image_max_unpacked_mb, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (organization_id) DO UPDATE SET sandboxes = excluded.sandboxes, cpu = excluded.cpu,
			memory_mb = excluded.memory_mb, disk_mb = excluded.disk_mb,
			image_max_compressed_mb = excluded.image_max_compressed_mb,
			image_max_unpacked_mb = excluded.image_max_unpacked_mb, updated_at = excluded.updated_at`,
			q.OrganizationID, orNil(q.Sandboxes), cpu, orNil(q.MemoryMB), orNil(q.DiskMB),
			orNil(q.ImageMaxCompressedMB), orNil(q.ImageMaxUnpackedMB), formatTime(q.UpdatedAt))
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
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(cpu), 0), COALESCE(SUM(memory_mb), 0),
		COALESCE(SUM(disk_mb), 0) FROM sandboxes WHERE organization_id = ? AND state <> 'deleted'`, orgID).
		Scan(&u.Sandboxes, &u.CPU, &u.MemoryMB, &u.DiskMB)
	if err != nil {
		return u, fmt.Errorf("usage of %s: %w", orgID, err)
	}
	return u, nil
}
