package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestTwoStoresShareOneDatabase opens two stores on one database, as two
// replicas do, and checks that each sees the other's writes at once:
// sandboxes, their events, keys and revocations.
func TestTwoStoresShareOneDatabase(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	a, b := openURL(t, url), openURL(t, url)

	org := &auth.Organization{ID: ids.New("org_"), Name: "acme"}
	if err := a.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	key := &auth.APIKey{ID: ids.New("key_"), OrganizationID: org.ID, Name: "ci", Hash: "h1", Prefix: "p"}
	if err := a.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetAPIKeyByHash(ctx, "h1"); err != nil || got.ID != key.ID {
		t.Fatalf("B reads A's key: %+v, %v", got, err)
	}
	if err := b.RevokeAPIKey(ctx, org.ID, key.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetAPIKeyByHash(ctx, "h1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("A finds the key B revoked: %v", err)
	}

	sb := benchSandbox(org.ID, "web")
	if err := a.CreateSandbox(ctx, sb, benchEvent); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetSandbox(ctx, org.ID, "web")
	if err != nil || got.ID != sb.ID || got.Version != sb.Version {
		t.Fatalf("B reads A's sandbox: %+v, %v", got, err)
	}
	got.State = sandbox.StatePaused
	if err := b.UpdateSandbox(ctx, got, sandbox.Event{Type: "state", From: sandbox.StateRunning, To: sandbox.StatePaused}); err != nil {
		t.Fatal(err)
	}
	again, err := a.GetSandboxByID(ctx, sb.ID)
	if err != nil || again.State != sandbox.StatePaused || again.Version != sb.Version+1 {
		t.Fatalf("A reads B's update: %+v, %v", again, err)
	}
	if evs, err := a.ListEvents(ctx, sb.ID); err != nil || len(evs) != 2 || evs[1].To != sandbox.StatePaused {
		t.Fatalf("A lists B's event: %+v, %v", evs, err)
	}
	// A's copy is stale now: its update is refused, not applied over B's.
	sb.State = sandbox.StateStopped
	if err := a.UpdateSandbox(ctx, sb, sandbox.Event{}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("A's update from a stale read: %v, want ErrConflict", err)
	}
}

// TestNoLostUpdateAcrossStores has two stores on one database each run a
// read-modify-write loop on one sandbox, retrying on conflict, as two
// replicas' lifecycles would: every increment each one reports as written
// must be in the final record, and every refused write is a conflict.
func TestNoLostUpdateAcrossStores(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	stores := []*Store{openURL(t, url), openURL(t, url)}
	sb := benchSandbox("org_race", "counter")
	sb.Metadata = map[string]string{"n": "0"}
	if err := stores[0].CreateSandbox(ctx, sb, benchEvent); err != nil {
		t.Fatal(err)
	}
	const perWriter = 25
	var (
		wg        sync.WaitGroup
		conflicts [4]int
		errs      = make(chan error, 4)
	)
	for w := range 4 { // two goroutines per store
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			for done := 0; done < perWriter; {
				cur, err := s.GetSandboxByID(ctx, sb.ID)
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(cur.Metadata["n"], &n)
				cur.Metadata = map[string]string{"n": fmt.Sprint(n + 1)}
				err = s.UpdateSandbox(ctx, cur, sandbox.Event{Type: "count", Message: fmt.Sprint(w)})
				switch {
				case err == nil:
					done++
				case errors.Is(err, errdefs.ErrConflict):
					conflicts[w]++
				default:
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final, err := stores[1].GetSandboxByID(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(4 * perWriter); final.Metadata["n"] != want || final.Version != sb.Version+4*perWriter {
		t.Fatalf("after %d acknowledged increments: n=%s version %d, want n=%s version %d (conflicts %v)",
			4*perWriter, final.Metadata["n"], final.Version, want, sb.Version+4*perWriter, conflicts)
	}
	evs, err := stores[0].ListEvents(ctx, sb.ID)
	if err != nil || len(evs) != 1+4*perWriter {
		t.Fatalf("%d events, %v; want one per acknowledged write and the create's", len(evs), err)
	}
	t.Logf("conflicts refused per writer: %v", conflicts)
}
