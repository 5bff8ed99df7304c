package bench

import (
	"context"
	"fmt"
	"time"
)

// densitySteps are the counts at which density measures, up to limit
// (which is always the last).
func densitySteps(limit int) []int {
	var out []int
	for _, n := range []int{10, 50, 100, 250, 500, 1000, 2500, 5000, 10000} {
		if n < limit {
			out = append(out, n)
		}
	}
	return append(out, limit)
}

// settle is how long density waits after a step's creates before it
// reads memory, so that the agents' start-up is over.
const settle = 2 * time.Second

// density creates idle sandboxes step by step up to Options.Density and
// reads, at each step, what they cost the host: the sum of their memory
// cgroups, the growth of the server's RSS and of the host's used memory.
func (r *run) density(ctx context.Context, rep *Report) {
	root := cgroupRoot("memory")
	hostBefore, _ := hostUsedBytes()
	rssBefore := int64(-1)
	if r.own != nil {
		rssBefore, _ = r.own.rssBytes()
	}
	var ids []string
	defer func() { r.removeAll(context.WithoutCancel(ctx), ids, "density: deleting sandboxes") }()
	errs := 0
	for _, step := range densitySteps(r.o.Density) {
		if ctx.Err() != nil {
			return
		}
		var took []time.Duration
		made, failed := r.createMany(ctx, step-len(ids), 2, fmt.Sprintf("density%s: %d sandboxes", r.suffix, step),
			func(d time.Duration) { took = append(took, d) })
		ids, errs = append(ids, made...), errs+failed
		time.Sleep(settle)
		ds := DensityStep{Runtime: r.shown, Sandboxes: len(ids), CreateP50: Summarize(took).P50, Errors: errs, ServerRSSMiB: -1, CgroupMiB: -1}
		var lists []time.Duration
		for i := 0; i < 5; i++ {
			t := time.Now()
			if _, err := r.listAll(ctx); err == nil {
				lists = append(lists, time.Since(t))
			}
		}
		ds.ListP50 = Summarize(lists).P50
		if used, err := hostUsedBytes(); err == nil {
			ds.HostUsedMiB = mib(used - hostBefore)
		}
		var sum int64
		read := 0
		for _, id := range ids {
			if b, ok := sandboxCgroupBytes(root, id); ok {
				sum += b
				read++
			}
		}
		if read == len(ids) && read > 0 {
			ds.CgroupMiB = mib(sum)
		}
		if r.own != nil && rssBefore >= 0 {
			if rss, err := r.own.rssBytes(); err == nil {
				ds.ServerRSSMiB = mib(max(rss-rssBefore, 0)) // a GC may shrink it below the start
			}
		}
		rep.Density = append(rep.Density, ds)
		r.prog.say("density%s: %d sandboxes, %.2f MiB each", r.suffix, ds.Sandboxes, ds.PerSandboxMiB())
	}
	if rep.Density[len(rep.Density)-1].CgroupMiB < 0 {
		rep.Notes = append(rep.Notes, "density"+r.suffix+": the sandboxes' memory cgroups were not readable here (another host or runtime); per sandbox is the host's growth")
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
