package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// netFake is the fake runtime with every sandbox port answered by one
// local server, so that the proxy's own cost can be measured apart from
// any container.
type netFake struct {
	*fakeruntime.Fake
	addr string
}

func (f netFake) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.addr)
}

func (f netFake) SetNetwork(context.Context, string, runtime.NetworkPolicy) error { return nil }

// Capabilities declares the network the fake has, so runtime.Check and
// the service's doors take it.
func (f netFake) Capabilities() runtime.Capabilities {
	c := f.Fake.Capabilities()
	c.Network, c.Ports = true, true
	return c
}

// BenchmarkPortProxy compares a request through the port proxy (API key
// check, sandbox lookup, activity, reverse proxy with pooled connections)
// with the same request made directly.
func BenchmarkPortProxy(b *testing.B) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer app.Close()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "hutch.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key, err := auth.Bootstrap(ctx, st, "")
	if err != nil {
		b.Fatal(err)
	}
	rt := netFake{Fake: fakeruntime.New(), addr: app.Listener.Addr().String()}
	log := slog.New(slog.DiscardHandler)
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt, sandbox.WithLogger(log))
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	p, err := auth.Authenticate(ctx, st, key)
	if err != nil {
		b.Fatal(err)
	}
	sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: p.OrganizationID, Wait: true})
	if err != nil {
		b.Fatal(err)
	}
	h := httpapi.New(httpapi.Deps{Sandboxes: svc, Auth: st, Log: log, Version: "bench"}, func() bool { return true })
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(b *testing.B, url string, key string) {
		req, _ := http.NewRequest("GET", url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			get(b, app.URL+"/x", "")
		}
	})
	b.Run("proxy", func(b *testing.B) {
		for b.Loop() {
			get(b, srv.URL+"/v1/sandboxes/"+sb.ID+"/ports/8000/x", key)
		}
	})
}
