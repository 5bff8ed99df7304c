package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// lifeSamples are what the lifecycle rounds measured, by scenario.
type lifeSamples struct {
	samples map[string][]time.Duration
	errors  map[string]int
	// created are the sandboxes of the measured rounds, whose traces the
	// breakdown reads.
	created []string
}

// lifecycleScenarios are measured in the order of one sandbox's life.
var lifecycleScenarios = []string{ScenarioCreate, ScenarioCreateExec, ScenarioExec, ScenarioFileWrite, ScenarioFileRead,
	ScenarioPause, ScenarioResume, ScenarioPauseDisk, ScenarioResumeDisk, ScenarioStop, ScenarioStart, ScenarioDelete}

// fileSize is what the file scenarios write and read.
const fileSize = 1 << 20

// lifecycle runs Warmup+Rounds sandboxes through their whole life, one
// after the other, and adds a result per selected scenario.
func (r *run) lifecycle(ctx context.Context, rep *Report) lifeSamples {
	ls := lifeSamples{samples: map[string][]time.Duration{}, errors: map[string]int{}}
	chosen := false
	for _, s := range lifecycleScenarios {
		chosen = chosen || r.o.selected(s)
	}
	if !chosen {
		return ls
	}
	payload := make([]byte, fileSize)
	if _, err := rand.Read(payload); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	total := r.o.Warmup + r.o.Rounds
	phase := fmt.Sprintf("lifecycle rounds%s (first %d warm-up)", r.suffix, r.o.Warmup)
	r.prog.step(phase, 0, total)
	for i := 0; i < total && ctx.Err() == nil; i++ {
		measured := i >= r.o.Warmup
		id := r.round(ctx, payload, func(name string, d time.Duration, err error) {
			if !measured || !r.o.selected(name) {
				return
			}
			if err != nil {
				ls.errors[name]++
				r.prog.say("%s: %v", name, err)
				return
			}
			ls.samples[name] = append(ls.samples[name], d)
		})
		if measured && id != "" {
			ls.created = append(ls.created, id)
		}
		r.prog.step(phase, i+1, total)
	}
	for _, s := range lifecycleScenarios {
		switch {
		case !r.o.selected(s):
		case r.supports(s):
			rep.Results = append(rep.Results, newResult(s, KindHutch, ls.samples[s], ls.errors[s]))
		case r.suffix != "":
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s not measured on %s: that runtime does not offer it (/v1/info runtimes' capabilities)", s, r.shown))
		default:
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s not measured: the server does not offer it (/v1/info capabilities)", s))
		}
	}
	return ls
}

// supports reports whether the server can do what scenario s asks, and
// notes it once when not.
func (r *run) supports(s string) bool {
	caps := r.caps
	switch s {
	case ScenarioCreateExec, ScenarioExec, ScenarioFileWrite, ScenarioFileRead:
		return caps.Agent
	case ScenarioPause, ScenarioResume:
		return caps.Pause
	case ScenarioPauseDisk, ScenarioResumeDisk:
		return caps.Pause && caps.Checkpoint
	}
	return true
}

// round is one sandbox's life: create, first exec, exec, a file written
// and read back, pause and resume in memory, then with the memory
// released to disk, stop, start, delete. Each step's time goes
// to add; a failed step skips to the delete. It returns the sandbox's ID.
func (r *run) round(ctx context.Context, payload []byte, add func(string, time.Duration, error)) string {
	sel := func(names ...string) bool {
		for _, n := range names {
			if r.o.selected(n) && r.supports(n) {
				return true
			}
		}
		return false
	}
	timed := func(name string, fn func() error) bool {
		start := time.Now()
		err := fn()
		add(name, time.Since(start), err)
		return err == nil
	}
	t0 := time.Now()
	sb, err := r.create(ctx)
	add(ScenarioCreate, time.Since(t0), err)
	if sb == nil || sb.ID == "" {
		return ""
	}
	id := sb.ID
	defer timed(ScenarioDelete, func() error { return r.remove(ctx, id) })
	if err != nil {
		return id
	}
	if sel(ScenarioCreateExec, ScenarioExec, ScenarioFileWrite, ScenarioFileRead) {
		// The first exec of a new sandbox: timed from the create's start.
		err := execTrue(ctx, r.c, id)
		add(ScenarioCreateExec, time.Since(t0), err)
		if err != nil {
			return id
		}
	}
	if sel(ScenarioExec) && !timed(ScenarioExec, func() error { return execTrue(ctx, r.c, id) }) {
		return id
	}
	if sel(ScenarioFileWrite, ScenarioFileRead) {
		const path = "/tmp/hutch-bench.bin"
		if !timed(ScenarioFileWrite, func() error {
			_, err := r.c.Upload(ctx, id, path, bytes.NewReader(payload), "")
			return err
		}) || !timed(ScenarioFileRead, func() error { return readBack(ctx, r.c, id, path, len(payload)) }) {
			return id
		}
	}
	if sel(ScenarioPause, ScenarioResume) {
		if !timed(ScenarioPause, func() error { return action(r.c.Pause(ctx, id, client.KeepMemory())) }) ||
			!timed(ScenarioResume, func() error { return action(r.c.Resume(ctx, id)) }) {
			return id
		}
	}
	if sel(ScenarioPauseDisk, ScenarioResumeDisk) {
		if !timed(ScenarioPauseDisk, func() error { return action(r.c.Pause(ctx, id, client.ReleaseMemory())) }) ||
			!timed(ScenarioResumeDisk, func() error { return action(r.c.Resume(ctx, id)) }) {
			return id
		}
	}
	if sel(ScenarioStop, ScenarioStart) {
		if !timed(ScenarioStop, func() error { return action(r.c.Stop(ctx, id, client.StopOptions{})) }) ||
			!timed(ScenarioStart, func() error { return action(r.c.Start(ctx, id)) }) {
			return id
		}
	}
	return id
}

// execTrue runs `true` and wants it to succeed.
func execTrue(ctx context.Context, c *client.Client, id string) error {
	res, err := c.Exec(ctx, id, api.ExecRequest{Command: []string{"true"}})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("exec true in %s: exit %d: %s", id, res.ExitCode, res.Stderr)
	}
	return nil
}

// readBack downloads a file and checks its size.
func readBack(ctx context.Context, c *client.Client, id, path string, size int) error {
	rc, err := c.Download(ctx, id, path)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err == nil && n != int64(size) {
		err = fmt.Errorf("read %d bytes of %s back, wrote %d", n, path, size)
	}
	return err
}

// action drops the sandbox a lifecycle call returns.
func action(_ *api.Sandbox, err error) error { return err }
