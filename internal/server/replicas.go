package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
	"github.com/hutchdev/hutch/internal/store/postgres"
)

// replicas is what a store that several `hutch serve` share (PostgreSQL)
// gives the server: each sandbox's lock held across replicas, one elected
// leader for the work that must run once (the reconciler, the webhook
// dispatcher), and the events the other replicas write. It is nil on
// SQLite, where the one server is always its own leader.
type replicas struct {
	st      *postgres.Store
	locks   *postgres.Locks
	elector *postgres.Elector
}

// leaderCheck is how often a replica tries for the leadership and the
// leader checks it still holds it: a leader that dies is replaced within
// about this long.
const leaderCheck = 2 * time.Second

// openReplicas returns the replica machinery of st, or nil when st is
// not shared.
func openReplicas(cfg config.Config, st store.Store) (*replicas, error) {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil, nil
	}
	spec, err := cfg.StoreSpec()
	if err != nil {
		return nil, err
	}
	locks, err := postgres.NewLocks(spec.URL)
	if err != nil {
		return nil, err
	}
	el, err := postgres.NewElector(spec.URL, "leader", leaderCheck)
	if err != nil {
		return nil, err
	}
	return &replicas{st: pg, locks: locks, elector: el}, nil
}

// serviceOptions shares the sandbox locks with the other replicas.
func (r *replicas) serviceOptions() []sandbox.Option {
	if r == nil {
		return nil
	}
	return []sandbox.Option{sandbox.WithSharedLocker(r.locks)}
}

// follow, until ctx ends, feeds svc with the other replicas' events (an
// SSE stream on this replica shows every change; their pauses end this
// replica's agent calls), and every interval records activity on the
// sandboxes this replica has connections to, which the leader cannot see.
func (r *replicas) follow(ctx context.Context, svc *sandbox.Service, every time.Duration, log *slog.Logger) {
	if r == nil {
		return
	}
	go r.st.Listen(ctx, svc.Remote)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := svc.TouchHeld(ctx); err != nil && ctx.Err() == nil {
				log.Warn("record the activity of connected sandboxes", "err", err)
			}
		}
	}()
}

// lead runs fn until ctx ends: at once on a server alone, and on a
// replica for each term it is elected leader, fn's context ending with
// the term.
func (r *replicas) lead(ctx context.Context, log *slog.Logger, fn func(context.Context)) {
	if r == nil {
		fn(ctx)
		return
	}
	r.elector.Run(ctx, func(ctx context.Context) {
		log.Info("elected leader: the reconciler and the webhook dispatcher run on this replica")
		fn(ctx)
		log.Info("no longer the leader")
	})
}

// exclusive runs fn alone among the replicas (the first start's
// bootstrap), or simply runs it on a server alone.
func (r *replicas) exclusive(ctx context.Context, name string, fn func(context.Context) error) error {
	if r == nil {
		return fn(ctx)
	}
	return r.st.Exclusive(ctx, name, fn)
}

func (r *replicas) close() {
	if r != nil {
		r.locks.Close()
	}
}
