package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

// TestDrainFollowsProgress: hutch drain begins the drain with one POST,
// prints a line of progress for each sandbox dealt with, and ends with
// the summary once the drain has finished, naming what it left running.
func TestDrainFollowsProgress(t *testing.T) {
	var mu sync.Mutex
	posts, gets := 0, 0
	started := time.Now().UTC()
	status := func() api.DrainStatus {
		st := api.DrainStatus{Draining: true, StartedAt: &started, Total: 2, Done: min(gets, 2), LeftRunning: []api.DrainLeft{}}
		if st.Done >= 1 {
			st.OnDisk = 1
		}
		if st.Done == 2 {
			st.LeftRunning = append(st.LeftRunning, api.DrainLeft{SandboxID: "sb_2", Reason: "criu: dump failed"})
			st.FinishedAt = &started
		}
		return st
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/admin/drain", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		posts++
		writeJSON(w, http.StatusAccepted, status())
	})
	mux.HandleFunc("GET /v1/admin/drain", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gets++
		writeJSON(w, http.StatusOK, status())
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"--url", srv.URL, "--api-key", "hk_test", "drain"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if posts != 1 || gets != 2 {
		t.Fatalf("%d POSTs and %d GETs, want 1 and 2", posts, gets)
	}
	if want := "drained 0 of 2 (0 on disk, 0 left running)\ndrained 1 of 2 (1 on disk, 0 left running)\n"; stderr.String() != want {
		t.Fatalf("progress %q, want %q", stderr.String(), want)
	}
	out := stdout.String()
	if !strings.Contains(out, "2 of 2 dealt with") || !strings.Contains(out, "sb_2") || !strings.Contains(out, "criu: dump failed") {
		t.Fatalf("summary:\n%s", out)
	}
}
