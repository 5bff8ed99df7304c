package oci_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/procscan"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// TestGvisorCreateCancelledDuringRun: a create whose context ends while
// `runsc run` is under way leaves no gVisor sandbox behind (no sentry,
// gofer or stub process naming it, nothing ocitest finds), whether the
// create then fails or not. A sentry that a `runsc run` killed half-way
// left outside the sandbox's cgroup (here a stand-in process named and
// argued as one) goes with the failed create's cleanup too.
func TestGvisorCreateCancelledDuringRun(t *testing.T) {
	requireRunsc(t)
	dir := stateDir(t)
	g := newGvisor(t, dir)
	sp := runtime.Spec{ID: "gvcancel" + strconv.Itoa(os.Getpid()), Image: testImage, DiskMB: 64}
	t.Cleanup(func() { _ = g.Delete(context.Background(), sp.ID); ocitest.AssertGone(t, sp.ID) })
	stray := &exec.Cmd{Path: "/bin/sh", Args: []string{"runsc-sandbox", "-c", "while :; do sleep 1; done",
		"--root=" + filepath.Join(dir, "runsc"), "boot", sp.ID}}
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	strayDone := make(chan struct{})
	go func() { _ = stray.Wait(); close(strayDone) }()
	t.Cleanup(func() { _ = stray.Process.Kill(); <-strayDone })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	go func() {
		// runsc writes its state under its root once `run` has begun.
		defer close(started)
		for ctx.Err() == nil {
			if ents, _ := os.ReadDir(filepath.Join(dir, "runsc")); len(ents) > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := g.Create(ctx, sp)
	<-started
	if err == nil {
		t.Log("the create finished before it saw the cancel")
		if err := g.Delete(context.Background(), sp.ID); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("cancelled create: %v", err)
	}
	select {
	case <-strayDone:
	case <-time.After(10 * time.Second):
		t.Error("the stray sentry outlived the create's cleanup")
	}
	if procs := processesNaming(sp.ID); len(procs) > 0 {
		t.Fatalf("processes of %s left behind: %s", sp.ID, strings.Join(procs, "; "))
	}
	ocitest.AssertGone(t, sp.ID)
}

// processesNaming lists the host processes whose command line names id.
func processesNaming(id string) []string {
	procs, _ := procscan.Find(func(argv []string) bool { return strings.Contains(strings.Join(argv, " "), id) })
	var out []string
	for _, p := range procs {
		out = append(out, strconv.Itoa(p.PID)+": "+strings.Join(p.Argv, " "))
	}
	return out
}
