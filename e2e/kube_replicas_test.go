package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestReplicasOnKube is issue 17's scale-out test: two replicas of hutch
// serve share one PostgreSQL database and run every sandbox as a pod of a
// k3s cluster. Twenty sandboxes are made through replica A (the leader),
// each gets a file through A, and replica B runs a command in each and
// reads that file. One is archived through A (its files go to the
// archive store in the database). A is killed with SIGKILL while stops
// it was asked for are under way; B settles each of those transitions, takes over the
// reconciler (two sandboxes whose timeout runs out after the kill are
// deleted by B), and manages all twenty: start (the archived one from the
// archive store A filled), pause, resume, stop, start (the file survives)
// and delete. Nothing is lost: every sandbox ends deleted,
// and no pod or claim is left in the namespace.
func TestReplicasOnKube(t *testing.T) {
	k := startKube(t)
	url := startPostgres(t)
	flags := append(k.flags(), "--store", url, "--reconcile-interval", "1s")
	a := startReplica(t, flags...)
	waitLogged(t, a, "elected leader")
	b := startReplica(t, flags...)
	c, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	const n = 20
	ids := make([]string, n)
	eachParallel(t, n, 4, func(i int) error {
		sb, err := a.c.CreateSandbox(c, api.CreateSandboxRequest{Name: fmt.Sprintf("kube-%02d", i), Image: k.image, Entrypoint: []string{"sleep", "100000"}})
		if err != nil {
			return fmt.Errorf("create %d through A: %w", i, err)
		}
		ids[i] = sb.ID
		_, err = a.c.Upload(c, sb.ID, "/root/marker", strings.NewReader(sb.ID), "0644")
		return err
	})
	t.Cleanup(func() { deleteThrough(t, b, ids) })
	eachParallel(t, n, 4, func(i int) error {
		res, err := b.c.Exec(c, ids[i], api.ExecRequest{Command: []string{"cat", "/root/marker"}})
		if err != nil || res.ExitCode != 0 || res.Stdout != ids[i] {
			return fmt.Errorf("cat through B in %s: %+v, %v", ids[i], res, err)
		}
		return nil
	})

	// Two sandboxes that expire once A is gone: only B's reconciler can
	// delete them.
	var expiring []string
	for i := range 2 {
		sb, err := a.c.CreateSandbox(c, api.CreateSandboxRequest{Name: fmt.Sprintf("expiring-%d", i), Image: k.image,
			Entrypoint: []string{"sleep", "100000"}, TimeoutSeconds: ptr(int64(20))})
		if err != nil {
			t.Fatal(err)
		}
		expiring = append(expiring, sb.ID)
	}

	// One sandbox archived through A: its files leave the cluster for
	// the archive store in the database, where B finds them after A dies.
	archived := ids[n-1]
	if _, err := a.c.Stop(c, archived, client.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if sb, err := a.c.Archive(c, archived); err != nil || sb.State != "archived" {
		t.Fatalf("archive %s through A: %+v, %v", archived, sb, err)
	}

	// Stops through A, and A killed while they are under way.
	stopping := ids[:5]
	for _, id := range stopping {
		go a.c.Stop(c, id, client.StopOptions{})
	}
	if !poll.Wait(time.Minute, func() bool { return anyInState(c, b.c, stopping, "stopping") }) {
		t.Fatal("no stop through A was seen under way from B")
	}
	a.crash()
	t.Log("replica A killed with stops under way")

	for _, id := range ids {
		waitSettled(t, c, b.c, id)
	}
	for _, id := range expiring {
		if !poll.Wait(3*time.Minute, func() bool { return gone(c, b.c, id) }) {
			sb, err := b.c.GetSandbox(c, id)
			t.Fatalf("sandbox %s past its timeout not deleted by replica B: %+v, %v", id, sb, err)
		}
	}
	waitLogged(t, b, "elected leader")

	eachParallel(t, n, 4, func(i int) error { return manage(c, b.c, ids[i]) })
	deleteThrough(t, b, ids)
	k.waitNoLeftovers(t)
}

// manage drives one sandbox through replica r from whatever settled state
// it is in (an archived one is started from the archive store): running,
// paused, resumed, stopped, started again with its file, and a command
// run in it.
func manage(c context.Context, r *client.Client, id string) error {
	sb, err := r.GetSandbox(c, id)
	if err != nil {
		return err
	}
	if sb.State == "stopped" || sb.State == "archived" {
		if sb, err = r.Start(c, id); err != nil {
			return fmt.Errorf("start %s: %w", id, err)
		}
	}
	if sb.State != "running" {
		return fmt.Errorf("sandbox %s is %s after the failover, want running or stopped", id, sb.State)
	}
	for _, step := range []struct {
		name string
		do   func() (*api.Sandbox, error)
		want string
	}{
		{"pause", func() (*api.Sandbox, error) { return r.Pause(c, id) }, "paused"},
		{"resume", func() (*api.Sandbox, error) { return r.Resume(c, id) }, "running"},
		{"stop", func() (*api.Sandbox, error) { return r.Stop(c, id, client.StopOptions{}) }, "stopped"},
		{"start", func() (*api.Sandbox, error) { return r.Start(c, id) }, "running"},
	} {
		got, err := step.do()
		if err != nil || got.State != step.want {
			return fmt.Errorf("%s %s through B: %+v, %v", step.name, id, got, err)
		}
	}
	res, err := r.Exec(c, id, api.ExecRequest{Command: []string{"cat", "/root/marker"}})
	if err != nil || res.Stdout != id {
		return fmt.Errorf("the file in %s after stop and start: %+v, %v", id, res, err)
	}
	return nil
}

// eachParallel runs fn for 0..n-1 on workers goroutines and fails the
// test with every error.
func eachParallel(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make([]error, n)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// anyInState reports whether one of ids is in state, as r sees it.
func anyInState(c context.Context, r *client.Client, ids []string, state string) bool {
	for _, id := range ids {
		if sb, err := r.GetSandbox(c, id); err == nil && sb.State == state {
			return true
		}
	}
	return false
}

// transitional are the states a transition is under way in.
var transitional = []string{"creating", "pausing", "resuming", "stopping", "starting", "archiving", "deleting"}

// waitSettled waits until sandbox id, seen through r, is in a state no
// transition is under way in.
func waitSettled(t *testing.T, c context.Context, r *client.Client, id string) {
	t.Helper()
	var sb *api.Sandbox
	var err error
	if poll.Wait(3*time.Minute, func() bool {
		sb, err = r.GetSandbox(c, id)
		return err == nil && !slices.Contains(transitional, sb.State)
	}) {
		return
	}
	t.Fatalf("sandbox %s not settled through replica B: %+v, %v", id, sb, err)
}

// gone reports whether sandbox id is deleted, as r sees it.
func gone(c context.Context, r *client.Client, id string) bool {
	sb, err := r.GetSandbox(c, id)
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return true
	}
	return err == nil && sb.State == "deleted"
}

// deleteThrough deletes every sandbox of ids through s that is not yet
// gone and waits for each to go.
func deleteThrough(t *testing.T, s *server, ids []string) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eachParallel(t, len(ids), 4, func(i int) error {
		if ids[i] == "" || gone(c, s.c, ids[i]) {
			return nil
		}
		if _, err := s.c.DeleteSandbox(c, ids[i]); err != nil && !gone(c, s.c, ids[i]) {
			return fmt.Errorf("delete %s: %w", ids[i], err)
		}
		if !poll.Wait(2*time.Minute, func() bool { return gone(c, s.c, ids[i]) }) {
			return fmt.Errorf("sandbox %s not deleted", ids[i])
		}
		return nil
	})
}
