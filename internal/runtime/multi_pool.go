package runtime

import (
	"context"
	"fmt"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// pooler returns the pooler of the driver p names.
func (m *Multi) pooler(p PoolSpec) (Pooler, error) {
	rt, ok := m.drivers[p.Runtime]
	if !ok {
		return nil, fmt.Errorf("prepared sandbox %s names runtime %q, which this server does not have: %w", p.ID, p.Runtime, errdefs.ErrInvalidArgument)
	}
	pl, ok := AsPooler(rt)
	if !ok {
		return nil, m.lacks(p.Runtime, "prepare sandboxes ahead")
	}
	return pl, nil
}

// Prepare implements Pooler on the driver p.Runtime names.
func (m *Multi) Prepare(ctx context.Context, p PoolSpec) error {
	pl, err := m.pooler(p)
	if err != nil {
		return err
	}
	return pl.Prepare(ctx, p)
}

// Take implements Pooler; spec.ID then runs on p's driver.
func (m *Multi) Take(ctx context.Context, p PoolSpec, spec Spec) error {
	pl, err := m.pooler(p)
	if err != nil {
		return err
	}
	if err := pl.Take(ctx, p, spec); err != nil {
		return err
	}
	m.known.Store(spec.ID, p.Runtime)
	return nil
}

// DropPrepared implements Pooler.
func (m *Multi) DropPrepared(ctx context.Context, p PoolSpec) error {
	pl, err := m.pooler(p)
	if err != nil {
		return err
	}
	return pl.DropPrepared(ctx, p)
}

// Prepared implements Pooler: every pooling driver's, each with its
// driver's name.
func (m *Multi) Prepared(ctx context.Context) ([]PoolSpec, error) {
	var out []PoolSpec
	for _, name := range m.names {
		pl, ok := AsPooler(m.drivers[name])
		if !ok {
			continue
		}
		ps, err := pl.Prepared(ctx)
		if err != nil {
			return nil, fmt.Errorf("runtime %s: %w", name, err)
		}
		for _, p := range ps {
			p.Runtime = name
			out = append(out, p)
		}
	}
	return out, nil
}
