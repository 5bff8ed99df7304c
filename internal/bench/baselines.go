package bench

import (
	"context"
	"fmt"
	"os"
	"time"
)

// baselines measures the raw runtimes on a bundle of the image's rootfs,
// Warmup+Rounds containers each, on this host.
func (r *run) baselines(ctx context.Context, rep *Report) {
	if !r.o.selected(ScenarioRaw) || len(r.o.Raw) == 0 || ctx.Err() != nil {
		return
	}
	tarPath := r.o.RawTar
	if tarPath == "" {
		tarPath = seedTar(r.o.Image)
	}
	if _, err := os.Stat(tarPath); err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("raw baselines not measured: no rootfs tarball of %q (%v); give one with --raw-tar", r.o.Image, err))
		return
	}
	dir, err := os.MkdirTemp("", "hutch-bench-raw-")
	if err != nil {
		rep.Notes = append(rep.Notes, "raw baselines not measured: "+err.Error())
		return
	}
	defer os.RemoveAll(dir)
	r.prog.say("unpacking %s for the raw baselines", tarPath)
	rootfs, err := unpackRootfs(ctx, tarPath, dir)
	if err != nil {
		rep.Notes = append(rep.Notes, "raw baselines not measured: "+err.Error())
		return
	}
	freezerDone := false
	for _, rt := range r.o.Raw {
		rw, err := newRaw(rt, rootfs, dir)
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("raw %s not measured: %v", rt, err))
			continue
		}
		if freezerDone {
			rw.freezer = "" // the freezer is the kernel's, whichever runtime made the cgroup: measured once
		}
		freezerDone = freezerDone || rw.freezer != ""
		rep.Results = append(rep.Results, r.rounds(ctx, "raw "+rt, KindRaw, rw.round)...)
		rw.cleanup()
	}
}

// rounds runs round Warmup+Rounds times, each reporting its steps'
// times through add, and summarizes the measured rounds' samples per
// step, in the order the steps first came.
func (r *run) rounds(ctx context.Context, phase, kind string, round func(ctx context.Context, i int, add func(name string, d time.Duration, err error))) []Result {
	samples, errs := map[string][]time.Duration{}, map[string]int{}
	var order []string
	total := r.o.Warmup + r.o.Rounds
	for i := 0; i < total && ctx.Err() == nil; i++ {
		measured := i >= r.o.Warmup
		round(ctx, i, func(name string, d time.Duration, err error) {
			if _, seen := samples[name]; !seen {
				order = append(order, name)
				samples[name] = nil
			}
			if !measured {
				return
			}
			if err != nil {
				errs[name]++
				r.prog.say("%s: %v", name, err)
				return
			}
			samples[name] = append(samples[name], d)
		})
		r.prog.step(phase, i+1, total)
	}
	out := make([]Result, 0, len(order))
	for _, name := range order {
		out = append(out, newResult(name, kind, samples[name], errs[name]))
	}
	return out
}

// floorOf names the baseline a scenario is compared to: the first raw
// runtime measured (crun by default, the fastest), or the freezer for
// pause and resume, which is what Hutch's pause writes.
func floorOf(scenario, rt string) string {
	switch scenario {
	case ScenarioCreate, ScenarioCreatePool:
		return rawRun(rt)
	case ScenarioExec:
		return rawExec(rt)
	case ScenarioPause:
		return rawFreeze
	case ScenarioResume:
		return rawThaw
	case ScenarioDelete:
		return rawDelete(rt)
	}
	return ""
}

// setFloors fills in each hutch result's floor where that baseline ran.
func setFloors(rep *Report) {
	rt := ""
	have := map[string]bool{}
	for _, res := range rep.Results {
		if res.Kind == KindRaw {
			have[res.Name] = true
			if rt == "" {
				for _, cand := range []string{"crun", "runc"} {
					if res.Name == rawRun(cand) {
						rt = cand
					}
				}
			}
		}
	}
	for i, res := range rep.Results {
		if res.Kind != KindHutch {
			continue
		}
		if f := floorOf(baseName(res.Name), rt); have[f] {
			rep.Results[i].Floor = f
		}
	}
}
