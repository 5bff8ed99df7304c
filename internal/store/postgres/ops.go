package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/metrics"
)

// SandboxCounts counts the sandboxes not deleted by organisation and
// state, with the resources they hold, for the metrics.
func (s *Store) SandboxCounts(ctx context.Context) ([]metrics.SandboxCount, error) {
	out, err := query(ctx, s, func(row pgx.CollectableRow) (metrics.SandboxCount, error) {
		var c metrics.SandboxCount
		err := row.Scan(&c.Org, &c.State, &c.Count, &c.CPU, &c.MemoryMB, &c.DiskMB)
		return c, err
	}, `SELECT organization_id, state, count(*), coalesce(sum(cpu), 0), coalesce(sum(memory_mb), 0)::bigint,
		coalesce(sum(disk_mb), 0)::bigint FROM sandboxes WHERE state <> 'deleted' GROUP BY organization_id, state`)
	if err != nil {
		return nil, fmt.Errorf("count sandboxes: %w", err)
	}
	return out, nil
}
