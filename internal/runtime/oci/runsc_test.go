package oci_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
	"github.com/hutchdev/hutch/internal/runtime/runtimetest"
)

// runscPath is where scripts/build-runsc.sh puts runsc; HUTCH_RUNSC
// overrides it.
func runscPath() string {
	if p := os.Getenv("HUTCH_RUNSC"); p != "" {
		return p
	}
	return "/var/cache/hutch/bin/runsc"
}

func requireRunsc(t testing.TB) {
	t.Helper()
	requireHost(t, oci.RuntimeCrun) // root, busybox, the fixture
	if _, err := os.Stat(runscPath()); err != nil {
		t.Skipf("runsc is not built (scripts/build-runsc.sh): %v", err)
	}
}

func newGvisor(t testing.TB, stateDir string) *oci.Gvisor {
	t.Helper()
	g, err := oci.NewGvisor(oci.Config{RuntimePath: runscPath(), StateDir: stateDir, Images: resolve, InitBinary: fixture.init})
	if err != nil {
		t.Fatalf("oci.NewGvisor: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestSuiteGvisor(t *testing.T) {
	requireRunsc(t)
	var dir string
	h := runtimetest.Harness{
		New: func(t testing.TB, d string) runtime.Runtime { return newGvisor(t, d) },
		StateDir: func(t testing.TB) string {
			dir = stateDir(t)
			return dir
		},
		Image: testImage,
		Exec: func(ctx context.Context, r runtime.Runtime, id string, argv ...string) (string, error) {
			out, err := r.(*oci.Gvisor).Exec(ctx, id, argv...)
			return string(out), err
		},
		ConcurrentCreates: 10, // each is a sentry and a gofer: 50 took about 4 min in CI
	}
	runtimetest.Run(t, h, &gvisorProbe{dir: &dir})
}

// gvisorProbe finds the state directory of the subtest's driver, which
// the harness makes per subtest.
type gvisorProbe struct{ dir *string }

func (g *gvisorProbe) p() ocitest.GvisorProbe {
	return ocitest.GvisorProbe{Runsc: runscPath(), StateDir: *g.dir}
}

func (g *gvisorProbe) Leftovers(ctx context.Context, rt runtime.Runtime, id string) ([]string, error) {
	return g.p().Leftovers(ctx, rt, id)
}
func (g *gvisorProbe) ReadFile(ctx context.Context, rt runtime.Runtime, id, path string) ([]byte, error) {
	return g.p().ReadFile(ctx, rt, id, path)
}
func (g *gvisorProbe) Alive(ctx context.Context, rt runtime.Runtime, id string) (bool, error) {
	return g.p().Alive(ctx, rt, id)
}
func (g *gvisorProbe) Frozen(ctx context.Context, rt runtime.Runtime, id string) (bool, error) {
	return g.p().Frozen(ctx, rt, id)
}
func (g *gvisorProbe) Kill(ctx context.Context, rt runtime.Runtime, id string) error {
	return g.p().Kill(ctx, rt, id)
}
func (g *gvisorProbe) HostUID(ctx context.Context, rt runtime.Runtime, id string) (int, error) {
	return g.p().HostUID(ctx, rt, id)
}

// TestGvisorKernel: a gVisor sandbox sees gVisor's kernel, not the host's.
func TestGvisorKernel(t *testing.T) {
	requireRunsc(t)
	g := newGvisor(t, stateDir(t))
	ctx := context.Background()
	sp := runtime.Spec{ID: "gvk" + strings.ReplaceAll(t.Name()[len(t.Name())-4:], "/", ""), Image: testImage, DiskMB: 64}
	t.Cleanup(func() { _ = g.Delete(context.Background(), sp.ID); ocitest.AssertGone(t, sp.ID) })
	if err := g.Create(ctx, sp); err != nil {
		t.Fatal(err)
	}
	host, err := os.ReadFile("/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	inside, err := g.Exec(ctx, sp.ID, "cat", "/proc/version")
	if err != nil {
		t.Fatalf("%v: %s", err, inside)
	}
	if strings.TrimSpace(string(inside)) == strings.TrimSpace(string(host)) {
		t.Fatalf("the sandbox sees the host's kernel: %s", inside)
	}
	release, err := g.Exec(ctx, sp.ID, "uname", "-r")
	if err != nil {
		t.Fatalf("%v: %s", err, release)
	}
	if strings.Contains(string(host), strings.TrimSpace(string(release))) {
		t.Errorf("the sandbox's kernel release %q is the host's", release)
	}
	t.Logf("inside: %s", inside)
}

// TestGvisorCheckpointRestore: a paused sandbox's kernel goes to disk (its
// processes end, its memory is freed) and comes back paused, its shell
// variable and its agent as they were.
func TestGvisorCheckpointRestore(t *testing.T) {
	requireRunsc(t)
	dir := stateDir(t)
	g := newGvisor(t, dir)
	probe := ocitest.GvisorProbe{Runsc: runscPath(), StateDir: dir}
	ctx := context.Background()
	counter := `i=0; while :; do i=$((i+1)); echo $i > /tmp/c.tmp; mv /tmp/c.tmp /tmp/counter; usleep 20000; done`
	sp := runtime.Spec{ID: "gvckpt" + strconv.Itoa(os.Getpid()), Image: testImage, DiskMB: 64, MemoryMB: 128,
		Entrypoint: []string{"sh", "-c", counter}}
	t.Cleanup(func() { _ = g.Delete(context.Background(), sp.ID); ocitest.AssertGone(t, sp.ID) })
	if err := g.Create(ctx, sp); err != nil {
		t.Fatal(err)
	}
	read := func() int {
		b, err := probe.ReadFile(ctx, g, sp.ID, "/tmp/counter")
		if err != nil {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return -1
		}
		return n
	}
	if !poll.Wait(time.Minute, func() bool { return read() >= 5 }) {
		t.Fatal("the counter does not count")
	}
	if _, err := g.Checkpoint(ctx, sp.ID); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("checkpoint of a running sandbox: %v, want a conflict", err)
	}
	if err := g.Pause(ctx, sp.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	size, err := g.Checkpoint(ctx, sp.ID)
	t.Logf("checkpoint: %v, %d bytes", time.Since(start), size)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	// The sandbox runs for the moments its agent is suspended and
	// resumed (the driver's doc says why): counting from here, it goes on
	// from where it was, it does not start over.
	at := read()
	if size <= 0 {
		t.Errorf("checkpoint size %d", size)
	}
	if alive, err := probe.Alive(ctx, g, sp.ID); err != nil || alive {
		t.Fatalf("processes alive after checkpoint: %v %v", alive, err)
	}
	if st, err := g.Recover(ctx, sp.ID); err != nil || st.State != runtime.StatePaused {
		t.Fatalf("recover after checkpoint: %+v %v", st, err)
	}
	g2 := newGvisor(t, dir) // across a server restart
	start = time.Now()
	if err := g2.Restore(ctx, sp.ID); err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Logf("restore: %v", time.Since(start))
	if st, err := g2.Recover(ctx, sp.ID); err != nil || st.State != runtime.StatePaused {
		t.Fatalf("recover after restore: %+v %v", st, err)
	}
	if err := g2.Resume(ctx, sp.ID); err != nil {
		t.Fatal(err)
	}
	if !poll.Wait(time.Minute, func() bool { return read() > at }) {
		t.Fatalf("the counter does not go on after restore (at %d, now %d)", at, read())
	}
	if n := read(); n < at {
		t.Fatalf("counter restarted: %d, was %d", n, at)
	}
	c, err := g2.DialAgent(ctx, sp.ID)
	if err != nil {
		t.Fatalf("agent after restore: %v", err)
	}
	c.Close()
	if out, err := g2.Exec(ctx, sp.ID, "echo", "back"); err != nil || string(out) != "back\n" {
		t.Fatalf("exec after restore: %q %v", out, err)
	}
	// A restored sandbox goes to disk again, and again.
	for cycle := 2; cycle <= 3; cycle++ {
		if err := g2.Pause(ctx, sp.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := g2.Checkpoint(ctx, sp.ID); err != nil {
			t.Fatalf("checkpoint %d: %v", cycle, err)
		}
		at := read()
		if alive, err := probe.Alive(ctx, g2, sp.ID); err != nil || alive {
			t.Fatalf("processes alive after checkpoint %d: %v %v", cycle, alive, err)
		}
		if err := g2.Restore(ctx, sp.ID); err != nil {
			t.Fatalf("restore %d: %v", cycle, err)
		}
		if err := g2.Resume(ctx, sp.ID); err != nil {
			t.Fatalf("resume %d: %v", cycle, err)
		}
		if !poll.Wait(time.Minute, func() bool { return read() > at }) {
			t.Fatalf("the counter does not go on after restore %d (at %d, now %d)", cycle, at, read())
		}
		if out, err := g2.Exec(ctx, sp.ID, "echo", "back"); err != nil || string(out) != "back\n" {
			t.Fatalf("exec after restore %d: %q %v", cycle, out, err)
		}
	}
}
