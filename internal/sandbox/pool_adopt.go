package sandbox

import (
	"context"
	"strings"

	"github.com/hutchdev/hutch/internal/runtime"
)

// reconcile takes in what the driver still holds prepared from a previous
// run (adopt), before the filler prepares anything.
func (p *pool) reconcile(ctx context.Context) {
	_, want, _ := p.s.wanted(ctx)
	kept, dropped, err := p.adopt(ctx, want, "left by a previous run, no longer wanted")
	if err != nil {
		p.s.log.Warn("list the sandboxes a previous run prepared", "err", err)
		return
	}
	p.s.log.Info("warm pools reconciled", "kept", kept, "dropped", dropped)
}

// adoptGone is the filler's pass among replicas: the members of a replica
// that died (its locks gone with its session) are taken in or dropped
// here without waiting for a restart.
func (p *pool) adoptGone(ctx context.Context, want map[poolKey]int) {
	kept, dropped, err := p.adopt(ctx, want, "left by a replica gone, not wanted here")
	switch {
	case err != nil:
		p.s.log.Warn("list the prepared sandboxes for those of replicas gone", "err", err)
	case kept+dropped > 0:
		p.s.log.Info("took in the pooled sandboxes of a replica gone", "kept", kept, "dropped", dropped)
	}
}

// adopt takes in the members the driver holds that no live replica owns
// (all it holds, on a server alone): those that match a wanted pool
// (runtime, image digest, disk, limits) and still have their image pin
// are kept, up to the pool's size, since they are as good as new ones;
// the rest are dropped. Members this replica owns, and those another
// live replica does (it holds their lock), are left alone.
//
// Image pins of pool ids are released only by whoever holds the id's
// lock: here, those of ids the driver no longer holds whose lock this
// replica can take. Each server has its own image cache today, so the
// pins it holds are its own members' or those of its previous run; the
// rule also holds for a cache replicas would share, where a pin can be
// another replica's member being prepared (pinned, not listed yet) or
// being taken.
func (p *pool) adopt(ctx context.Context, want map[poolKey]int, why string) (kept, dropped int, err error) {
	s := p.s
	held, err := p.pl.Prepared(ctx)
	if err != nil {
		return 0, 0, err
	}
	var got []runtime.PoolSpec
	for _, m := range held {
		if !p.owns(m.ID) && p.tryOwn(ctx, m.ID) {
			got = append(got, m)
		}
	}
	if s.shared != nil && len(got) > 0 {
		// Another replica may have taken or dropped some of got between
		// the listing and their locks: only those listed now are there.
		if held, err = p.pl.Prepared(ctx); err != nil {
			for _, m := range got {
				p.disown(m.ID)
			}
			return 0, 0, err
		}
		got = p.stillHeld(got, held)
	}
	var pins map[string][]string
	if st := s.Images().cache; st != nil {
		pins = st.Pins()
	}
	var stale []runtime.PoolSpec
	for _, m := range got {
		if m.Runtime == "" {
			m.Runtime = s.defaultRuntime()
		}
		k := s.keyOf(m)
		_, pinned := pins[m.ID]
		if (pins == nil || pinned) && p.count(k) < want[k] && p.add(k, m) {
			kept++
			continue
		}
		stale = append(stale, m)
	}
	p.drop(ctx, stale, why)
	p.releaseOrphanPins(ctx, pins, held)
	return kept, len(stale), nil
}

// stillHeld keeps the members of got that held lists and lets the others
// go.
func (p *pool) stillHeld(got, held []runtime.PoolSpec) []runtime.PoolSpec {
	listed := map[string]bool{}
	for _, m := range held {
		listed[m.ID] = true
	}
	var out []runtime.PoolSpec
	for _, m := range got {
		if listed[m.ID] {
			out = append(out, m)
			continue
		}
		p.disown(m.ID)
	}
	return out
}

// releaseOrphanPins releases the pins of pool ids that are neither held
// by the driver nor owned by this replica nor locked by another.
func (p *pool) releaseOrphanPins(ctx context.Context, pins map[string][]string, held []runtime.PoolSpec) {
	listed := map[string]bool{}
	for _, m := range held {
		listed[m.ID] = true
	}
	var orphans []string
	var releases []func()
	for owner := range pins {
		if !strings.HasPrefix(owner, PoolIDPrefix) || listed[owner] || p.owns(owner) {
			continue
		}
		if release, ok := p.tryLock(ctx, owner); ok {
			orphans = append(orphans, owner)
			releases = append(releases, release)
		}
	}
	if len(orphans) == 0 {
		return
	}
	if err := p.s.Images().cache.Unpin(ctx, orphans...); err != nil {
		p.s.log.Warn("release the image pins of pooled sandboxes gone", "err", err)
	}
	for _, release := range releases {
		release()
	}
}
