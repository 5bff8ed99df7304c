package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// load runs the scenarios that put several requests in flight: GETs
// under concurrent clients, a full listing, a burst of creates.
func (r *run) load(ctx context.Context, rep *Report) {
	if r.o.selected(ScenarioGet) && ctx.Err() == nil {
		rep.Results = append(rep.Results, r.getUnderLoad(ctx))
	}
	if r.o.selected(ScenarioList) && ctx.Err() == nil {
		rep.Results = append(rep.Results, r.list(ctx))
	}
	if r.o.selected(ScenarioBurst) && ctx.Err() == nil {
		rep.Results = append(rep.Results, r.burst(ctx))
	}
}

// getUnderLoad: Clients clients GET one sandbox in a loop; each request's
// latency is a sample, the rate is all requests over the wall time.
func (r *run) getUnderLoad(ctx context.Context) Result {
	name := fmt.Sprintf("%s (%d clients)", ScenarioGet, r.o.Clients)
	sb, err := r.create(ctx)
	if err != nil {
		r.prog.say("%s: create: %v", name, err)
		return newResult(name, KindHutch, nil, 1)
	}
	defer r.remove(ctx, sb.ID)
	perClient := 10 * max(r.o.Rounds, 10)
	total := r.o.Clients * perClient
	var mu sync.Mutex
	var samples []time.Duration
	errs, done := 0, 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < r.o.Clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, perClient)
			bad := 0
			for i := 0; i < perClient && ctx.Err() == nil; i++ {
				t := time.Now()
				if _, err := r.c.GetSandbox(ctx, sb.ID); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			samples, errs, done = append(samples, mine...), errs+bad, done+perClient
			r.prog.step(name, done, total)
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	res := newResult(name, KindHutch, samples, errs)
	res.Wall, res.PerSecond = wall, float64(len(samples))/wall.Seconds()
	return res
}

// list makes ListSize idle sandboxes and times Rounds listings of all of
// them (every page of the largest size the API serves).
func (r *run) list(ctx context.Context) Result {
	name := fmt.Sprintf("%s (%d sandboxes)", ScenarioList, r.o.ListSize)
	ids, errs := r.createMany(ctx, r.o.ListSize, 4, "list: creating sandboxes", nil)
	defer r.removeAll(context.WithoutCancel(ctx), ids, "list: deleting sandboxes")
	var samples []time.Duration
	for i := 0; i < r.o.Warmup+r.o.Rounds && ctx.Err() == nil; i++ {
		t := time.Now()
		n, err := r.listAll(ctx)
		d := time.Since(t)
		switch {
		case err != nil:
			errs++
			r.prog.say("%s: %v", name, err)
		case n < len(ids):
			errs++
			r.prog.say("%s: listed %d sandboxes, made %d", name, n, len(ids))
		case i >= r.o.Warmup:
			samples = append(samples, d)
		}
	}
	return newResult(name, KindHutch, samples, errs)
}

// listAll walks every page of the bench's sandboxes and counts them.
func (r *run) listAll(ctx context.Context) (int, error) {
	n := 0
	err := r.eachPage(ctx, func(l *api.SandboxList) { n += len(l.Items) })
	return n, err
}

// tagged lists the IDs of the run's sandboxes not deleted.
func (r *run) tagged(ctx context.Context) ([]string, error) {
	var ids []string
	err := r.eachPage(ctx, func(l *api.SandboxList) {
		for _, sb := range l.Items {
			if sb.State != "deleted" && sb.State != "deleting" {
				ids = append(ids, sb.ID)
			}
		}
	})
	return ids, err
}

// eachPage passes every page of the run's sandboxes to fn.
func (r *run) eachPage(ctx context.Context, fn func(*api.SandboxList)) error {
	for page := 1; ; page++ {
		l, err := r.c.ListSandboxes(ctx, client.ListOptions{Page: page, PageSize: 200,
			Metadata: map[string]string{"hutch-bench": r.runID}})
		if err != nil {
			return err
		}
		fn(l)
		if !l.Pagination.HasNextPage {
			return nil
		}
	}
}

// burst starts Burst creates at once: each create's latency is a sample,
// the wall time the time until the last one answered.
func (r *run) burst(ctx context.Context) Result {
	name := fmt.Sprintf("%s (%d creates at once)", ScenarioBurst, r.o.Burst)
	var samples []time.Duration
	var mu sync.Mutex
	start := time.Now()
	ids, errs := r.createMany(ctx, r.o.Burst, r.o.Burst, name, func(d time.Duration) {
		mu.Lock()
		samples = append(samples, d)
		mu.Unlock()
	})
	wall := time.Since(start)
	r.removeAll(context.WithoutCancel(ctx), ids, "burst: deleting sandboxes")
	res := newResult(name, KindHutch, samples, errs)
	res.Wall, res.PerSecond = wall, float64(len(samples))/wall.Seconds()
	return res
}

// createMany makes n sandboxes with workers in flight, passing each
// successful create's time to took (if not nil); it returns the IDs made
// and the count of failures.
func (r *run) createMany(ctx context.Context, n, workers int, phase string, took func(time.Duration)) ([]string, int) {
	var mu sync.Mutex
	var ids []string
	errs, done := 0, 0
	work := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				t := time.Now()
				sb, err := r.create(ctx)
				d := time.Since(t)
				mu.Lock()
				done++
				if sb != nil && sb.ID != "" {
					ids = append(ids, sb.ID)
				}
				if err != nil {
					errs++
					r.prog.say("%s: %v", phase, err)
				} else if took != nil {
					took(d)
				}
				r.prog.step(phase, done, n)
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return ids, errs
}
