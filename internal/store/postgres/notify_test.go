package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestListenCatchesUpAfterReconnect: events other stores log while a
// listener's connection is down are delivered once it is back, read from
// the log; the listener's own store's are not, there or live.
func TestListenCatchesUpAfterReconnect(t *testing.T) {
	url := server.Database(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := openURL(t, url), openURL(t, url)
	org := &auth.Organization{ID: ids.New("org_"), Name: "acme"}
	if err := a.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	heard := make(chan sandbox.Notice, 64)
	go b.Listen(ctx, func(n sandbox.Notice) { heard <- n })
	waitListening(t, b, true)

	create := func(st *Store, name string) {
		t.Helper()
		if err := st.CreateSandbox(ctx, benchSandbox(org.ID, name), benchEvent); err != nil {
			t.Fatal(err)
		}
	}
	create(a, "live")
	terminateListener(t, url)
	waitListening(t, b, false)
	create(a, "missed")
	create(b, "own")
	waitListening(t, b, true)
	create(a, "after")

	var names []string
	for len(names) < 3 {
		select {
		case n := <-heard:
			names = append(names, n.SandboxName)
			if n.OrganizationID != org.ID || n.Event.ID == 0 || n.Event.To != sandbox.StateCreating {
				t.Fatalf("heard %+v", n)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("heard %v, want live, missed and after", names)
		}
	}
	if names[0] != "live" || names[1] != "missed" || names[2] != "after" {
		t.Fatalf("heard %v, want live, missed and after (not own)", names)
	}
	select {
	case n := <-heard:
		t.Fatalf("heard more: %+v", n)
	default:
	}
}

func waitListening(t *testing.T, st *Store, want bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for st.Listening() != want {
		if time.Now().After(deadline) {
			t.Fatalf("listening never became %v", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// terminateListener ends the one LISTEN session on the database, as a
// network cut or a restart of PostgreSQL would.
func terminateListener(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
		WHERE application_name = 'hutch events' AND datname = current_database()`).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminated %d listeners: %v", n, err)
	}
}
