package oci_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
	"github.com/hutchdev/hutch/internal/trace"
)

// BenchmarkTake times a take from a warm pool next to a cold create of
// the same sandbox and a bare `crun run -d` of a busybox bundle (the
// floor), interleaved in each round so that the machine's load weighs on
// all three alike, and the take's steps. The prepare (and the wait for
// its agent, see settle) and the deletes are not timed.
func BenchmarkTake(b *testing.B) {
	requireHost(b, oci.RuntimeCrun)
	d := newDriver(b, oci.RuntimeCrun, stateDir(b))
	ctx := context.Background()
	raw := rawBundle(b)
	s := steps{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps := runtime.PoolSpec{ID: fmt.Sprintf("benchpool%d", i), Image: testImage, DiskMB: 256}
		spec := runtime.Spec{ID: fmt.Sprintf("benchtake%d", i), Image: testImage, DiskMB: 256, Internet: true,
			Entrypoint: []string{"sleep", "1000"}, Env: map[string]string{"FOO": "bar"}, MemoryMB: 256}
		cold := spec
		cold.ID = fmt.Sprintf("benchcold%d", i)
		b.Cleanup(func() {
			_ = d.Delete(context.Background(), spec.ID)
			_ = d.Delete(context.Background(), cold.ID)
		})
		if err := d.Prepare(ctx, ps); err != nil {
			b.Fatal(err)
		}
		settle(b, d, ps.ID)
		rec := trace.New()
		if err := s.time("take", func() error { return d.Take(trace.WithRecorder(ctx, rec), ps, spec) }); err != nil {
			b.Fatal(err)
		}
		for _, sp := range rec.Spans() {
			s[sp.Name()] += sp.Duration
		}
		if err := s.time("create", func() error { return d.Create(ctx, cold) }); err != nil {
			b.Fatal(err)
		}
		_ = s.time("raw-run", raw.run)
		raw.remove()
		for _, id := range []string{spec.ID, cold.ID} {
			if err := d.Delete(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	s.report(b)
}

// settle waits until the prepared sandbox's agent answers, as a pool's
// sandboxes have long done when a create takes one: a take right after
// the prepare would share the sandbox's CPU with the agent's start.
func settle(b *testing.B, d *oci.Driver, id string) {
	c, err := d.DialAgent(context.Background(), id)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n")); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 16)); err != nil {
		b.Fatalf("agent of %s: %v", id, err)
	}
}

// rawBench is a busybox bundle that crun runs by hand.
type rawBench struct {
	b        testing.TB
	bin, dir string
}

func rawBundle(b testing.TB) rawBench {
	bin, _ := exec.LookPath(oci.RuntimeCrun)
	dir := stateDir(b)
	buf, _ := json.Marshal(rawSpec(fixture.layers[0]))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), buf, 0o600); err != nil {
		b.Fatal(err)
	}
	r := rawBench{b, bin, dir}
	b.Cleanup(r.remove)
	return r
}

// run starts the container; its output goes to /dev/null, since a pipe
// would be held open by the detached container.
func (r rawBench) run() error {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(r.bin, "--root", filepath.Join(r.dir, "root"), "run", "--detach", "--bundle", r.dir, "rawpoolbench")
	cmd.Stdout, cmd.Stderr = devnull, devnull
	if err := cmd.Run(); err != nil {
		r.b.Fatalf("crun run: %v", err)
	}
	return nil
}

func (r rawBench) remove() {
	_ = exec.Command(r.bin, "--root", filepath.Join(r.dir, "root"), "delete", "--force", "rawpoolbench").Run()
}
