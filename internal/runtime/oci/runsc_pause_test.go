package oci_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// TestGvisorPauseCyclesKeepTheSandbox goes through what the port proxy
// and a client do to a gVisor sandbox, cycle after cycle: a pause in
// memory with port connections held open (the proxy's idle ones), a
// resume, a command, a request through the port, then a pause that
// checkpoints (which closes the held connections), a restore and a
// resume. Each checkpoint must succeed and the sandbox must serve again
// after it, and a paused sandbox's cgroup is never frozen: the host
// freezer under runsc's pause made the sentry kill its own stubs at some
// later resume (about one e2e run in seven lost its sandbox so), too
// rarely for these cycles to show, hence the freezer check. A restore
// soon after a checkpoint could also leave two agents, on which the next
// checkpoint waited for ever (TestAgentSuspendResumeStartsOneAgent).
func TestGvisorPauseCyclesKeepTheSandbox(t *testing.T) {
	requireRunsc(t)
	dir := stateDir(t)
	g := newGvisor(t, dir)
	gvisor := ocitest.GvisorProbe{Runsc: runscPath(), StateDir: dir}
	sp := runtime.Spec{ID: "gvcyc" + strconv.Itoa(os.Getpid()), Image: testImage, DiskMB: 64, MemoryMB: 128,
		Entrypoint: []string{"sh", "-c", "mkdir -p /tmp/www && echo inside > /tmp/www/index.html && httpd -f -p 127.0.0.1:8080 -h /tmp/www"}}
	t.Cleanup(func() { _ = g.Delete(context.Background(), sp.ID); ocitest.AssertGone(t, sp.ID) })
	if err := g.Create(ctxT(t), sp); err != nil {
		t.Fatal(err)
	}
	get := func(ctx context.Context) (string, error) {
		c, err := g.DialPort(ctx, sp.ID, 8080)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		b, err := io.ReadAll(c)
		return string(b), err
	}
	if !poll.Wait(time.Minute, func() bool { b, _ := get(ctxT(t)); return strings.HasSuffix(b, "inside\n") }) {
		t.Fatal("the sandbox does not serve on its port 8080")
	}
	const cycles = 8
	for cycle := 1; cycle <= cycles; cycle++ {
		ctx := ctxT(t)
		var held []net.Conn
		for range 2 {
			c, err := g.DialPort(ctx, sp.ID, 8080)
			if err != nil {
				t.Fatalf("cycle %d: dial: %v", cycle, err)
			}
			held = append(held, c)
		}
		if err := g.Pause(ctx, sp.ID); err != nil {
			t.Fatalf("cycle %d: pause: %v", cycle, err)
		}
		if paused, err := gvisor.Frozen(ctx, g, sp.ID); err != nil || !paused {
			t.Fatalf("cycle %d: runsc does not have the sandbox paused: %v %v", cycle, paused, err)
		}
		// The host freezer interrupts systrap's seccomp notifications,
		// which the sentry takes for dead stubs (see runscPause).
		if frozen, err := (ocitest.Probe{}).Frozen(ctx, g, sp.ID); err != nil || frozen {
			t.Fatalf("cycle %d: the paused sandbox's cgroup is frozen (%v): %v", cycle, frozen, err)
		}
		if err := g.Resume(ctx, sp.ID); err != nil {
			t.Fatalf("cycle %d: resume: %v", cycle, err)
		}
		if out, err := g.Exec(ctx, sp.ID, "echo", "hi"); err != nil || string(out) != "hi\n" {
			t.Fatalf("cycle %d: exec after the resume: %q %v", cycle, out, err)
		}
		if b, err := get(ctx); !strings.HasSuffix(b, "inside\n") {
			t.Fatalf("cycle %d: the port after the resume: %q %v", cycle, b, err)
		}
		if err := g.Pause(ctx, sp.ID); err != nil {
			t.Fatalf("cycle %d: pause: %v", cycle, err)
		}
		if _, err := g.Checkpoint(ctx, sp.ID); err != nil {
			st, rerr := g.Recover(ctx, sp.ID)
			t.Fatalf("cycle %d: checkpoint: %v (the sandbox is then %+v %v)", cycle, err, st, rerr)
		}
		for _, c := range held {
			c.Close()
		}
		if err := g.Restore(ctx, sp.ID); err != nil {
			t.Fatalf("cycle %d: restore: %v", cycle, err)
		}
		if err := g.Resume(ctx, sp.ID); err != nil {
			t.Fatalf("cycle %d: resume after the restore: %v", cycle, err)
		}
		if b, err := get(ctx); !strings.HasSuffix(b, "inside\n") {
			t.Fatalf("cycle %d: the port after the restore: %q %v", cycle, b, err)
		}
	}
}
