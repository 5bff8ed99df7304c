package image

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hutchdev/hutch/internal/egress"
	"github.com/hutchdev/hutch/internal/errdefs"
)

func allowLoopback(t testing.TB) *egress.Guard {
	t.Helper()
	g, err := egress.New(egress.Policy{Allow: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// countingRegistry is a test registry that counts the requests it gets.
func countingRegistry(t *testing.T) (*testRegistry, *atomic.Int32) {
	var n atomic.Int32
	reg := startRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			h.ServeHTTP(w, r)
		})
	})
	return reg, &n
}

// TestPullRefusesInternalRegistries: a store opened without an allowance
// refuses a registry on loopback, by address or by a name that resolves
// there, before a request leaves; the error names the refusal.
func TestPullRefusesInternalRegistries(t *testing.T) {
	reg, hits := countingRegistry(t)
	reg.push(t, "app:v1", imageOf(t, "amd64", layerOf(t, file("f", "x"))))
	pushed := hits.Load()
	requireRoot(t)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, port, _ := net.SplitHostPort(reg.host)
	for _, c := range []struct{ ref, want string }{
		{reg.ref("app:v1"), "image registry 127.0.0.1 is a loopback address; the platform admin can allow it with --egress-allow"},
		{"localhost:" + port + "/app:v1", "image registry localhost resolves to a loopback address"},
	} {
		_, err := s.Pull(bg(), c.ref)
		var re *egress.RefusedError
		if !errors.Is(err, errdefs.ErrForbidden) || !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("pull %s: err = %v, want a refusal saying %q", c.ref, err, c.want)
		}
		if strings.Contains(c.ref, "localhost") && strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("pull %s: message %q shows the address the name resolved to", c.ref, err)
		}
	}
	if n := hits.Load() - pushed; n != 0 {
		t.Fatalf("the refused registry got %d requests", n)
	}
	assertNoLeftovers(t, s)
}

// TestPullRedirectToInternalRefused: a registry the admin allowed by name
// (localhost) that redirects a blob to another name resolving to a
// refused address (this machine's host name, which resolves to loopback
// or to one of its own addresses) does not get it fetched: the dialer
// checks the redirect's connection. (A redirect to an internal IP literal
// is refused by go-containerregistry itself before it dials.)
func TestPullRedirectToInternalRefused(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	if addrs, err := net.DefaultResolver.LookupHost(bg(), host); err != nil || len(addrs) == 0 {
		t.Skipf("this machine's name %s does not resolve: %v", host, err)
	}
	var innerHits atomic.Int32
	innerLn, err := net.Listen("tcp", ":0") // every address, so only the guard keeps it unreached
	if err != nil {
		t.Fatal(err)
	}
	inner := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { innerHits.Add(1) }))
	inner.Listener = innerLn
	inner.Start()
	t.Cleanup(inner.Close)
	_, innerPort, _ := net.SplitHostPort(innerLn.Addr().String())
	reg := startRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := blobDigest(r); ok && r.Method == http.MethodGet {
				http.Redirect(w, r, "http://"+net.JoinHostPort(host, innerPort)+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	reg.push(t, "app:v1", imageOf(t, "amd64", layerOf(t, file("f", "x"))))
	_, port, _ := net.SplitHostPort(reg.host)

	g, err := egress.New(egress.Policy{Allow: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	requireRoot(t)
	s, err := Open(t.TempDir(), WithEgress(g))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, err = s.Pull(bg(), "localhost:"+port+"/app:v1")
	if !errors.Is(err, errdefs.ErrForbidden) || !strings.Contains(err.Error(), "image registry "+host+" resolves to") {
		t.Fatalf("err = %v, want the redirect's target refused", err)
	}
	if innerHits.Load() != 0 {
		t.Fatal("the internal server behind the redirect was reached")
	}
	assertNoLeftovers(t, s)
}

// TestPullErrorDoesNotEchoUpstream: whatever answers on a registry's
// address, its body never reaches the caller, only its status and the
// spec's error codes.
func TestPullErrorDoesNotEchoUpstream(t *testing.T) {
	const secret = "internal-token-9f2c"
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   error
		code   string
	}{
		{"plain body", http.StatusForbidden, "<html>" + secret + "</html>", errdefs.ErrForbidden, "registry answered 403"},
		{"registry errors", http.StatusNotFound, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"` + secret + `","detail":"` + secret + `"},{"code":"` + secret + `"}]}`, errdefs.ErrNotFound, "(MANIFEST_UNKNOWN)"},
		{"unauthorized", http.StatusUnauthorized, secret, errdefs.ErrForbidden, "registry answered 401"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if r.URL.Path == "/v2/" {
					w.WriteHeader(http.StatusOK)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			t.Cleanup(srv.Close)
			s := newStore(t)
			_, err := s.Pull(bg(), strings.TrimPrefix(srv.URL, "http://")+"/app:v1")
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.code) {
				t.Fatalf("err = %v, want %v saying %q", err, c.want, c.code)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the upstream body reached the caller: %v", err)
			}
		})
	}
}
