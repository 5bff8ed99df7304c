package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
)

// poolFillTimeout bounds the wait for a warm pool to be full again
// between two pool creates; a pool that never fills is an error.
const poolFillTimeout = 2 * time.Minute

// poolOf returns the server's warm pool of the bench's image on the
// bench's runtime, if it keeps one.
func (r *run) poolOf(info *api.Info) (api.PoolInfo, bool) {
	want := r.runtime
	if want == "" {
		want = info.DefaultRuntime
	}
	for _, p := range info.Pools {
		if p.Image == r.o.Image && p.Size > 0 && (want == "" || p.Runtime == want) {
			return p, true
		}
	}
	return api.PoolInfo{}, false
}

// poolCreates measures create to running served by the warm pool: before
// each create it waits until /v1/info says the pool is full again, so
// that every create finds a prepared sandbox, as one does on a server
// that is not creating in a burst. The other scenarios create with
// "pool": false, so that "create" is the cold path.
func (r *run) poolCreates(ctx context.Context, rep *Report) {
	if !r.o.selected(ScenarioCreatePool) {
		return
	}
	if _, ok := r.poolOf(r.info); !ok {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s not measured: the server does not offer it (/v1/info pools: none of %s)", ScenarioCreatePool, r.o.Image))
		return
	}
	var samples []time.Duration
	errs, cold := 0, 0
	total := r.o.Warmup + r.o.Rounds
	phase := fmt.Sprintf("pool creates (first %d warm-up)", r.o.Warmup)
	r.prog.step(phase, 0, total)
	for i := 0; i < total && ctx.Err() == nil; i++ {
		measured := i >= r.o.Warmup
		if err := r.waitPoolFull(ctx); err != nil {
			errs++
			r.prog.say("%s: %v", ScenarioCreatePool, err)
			break
		}
		req := r.newSandbox()
		req.Pool = nil
		t0 := time.Now()
		sb, err := r.createWith(ctx, req)
		d := time.Since(t0)
		if sb != nil && sb.ID != "" {
			if err == nil && measured && r.servedCold(ctx, sb.ID) {
				cold++
			}
			if rerr := r.remove(ctx, sb.ID); rerr != nil && err == nil {
				err = rerr
			}
		}
		switch {
		case !measured:
		case err != nil:
			errs++
			r.prog.say("%s: %v", ScenarioCreatePool, err)
		default:
			samples = append(samples, d)
		}
		r.prog.step(phase, i+1, total)
	}
	rep.Results = append(rep.Results, newResult(ScenarioCreatePool, KindHutch, samples, errs))
	if cold > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %d of %d creates were served cold although the pool was full", ScenarioCreatePool, cold, len(samples)))
	}
}

// waitPoolFull polls /v1/info until the bench's pool has all its members.
func (r *run) waitPoolFull(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, poolFillTimeout)
	defer cancel()
	for {
		info, err := r.c.Info(ctx)
		if err != nil {
			return fmt.Errorf("wait for the pool to refill: %w", err)
		}
		p, ok := r.poolOf(info)
		if !ok {
			return fmt.Errorf("the server no longer keeps a pool of %s", r.o.Image)
		}
		if p.Ready >= p.Size {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the pool of %s still has %d of %d ready after %s", r.o.Image, p.Ready, p.Size, poolFillTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// servedCold reports whether the event settling sandbox id's create says
// it was booted rather than taken from a pool.
func (r *run) servedCold(ctx context.Context, id string) bool {
	evs, err := r.c.Events(ctx, id)
	if err != nil {
		return false
	}
	for _, e := range evs.Items {
		if e.From == "creating" && e.To == "running" {
			return !strings.HasSuffix(e.Message, "pool")
		}
	}
	return false
}
