package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func guard(t *testing.T, allow ...string) *Guard {
	t.Helper()
	g, err := New(Policy{Allow: allow, Sandboxes: netip.MustParsePrefix("10.213.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	g.hostAddrs = func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("203.0.113.7")} }
	return g
}

// TestCheckRefusesInternalAddresses walks one address of every refused
// kind and a few public ones.
func TestCheckRefusesInternalAddresses(t *testing.T) {
	g := guard(t)
	cases := []struct{ ip, reason string }{
		{"127.0.0.1", "a loopback address"},
		{"127.5.6.7", "a loopback address"},
		{"::1", "a loopback address"},
		{"::ffff:127.0.0.1", "a loopback address"},
		{"0.0.0.0", "an unspecified address"},
		{"::", "an unspecified address"},
		{"169.254.169.254", "a link-local address"},
		{"fe80::1", "a link-local address"},
		{"10.1.2.3", "a private address"},
		{"172.16.0.1", "a private address"},
		{"192.168.1.1", "a private address"},
		{"100.64.0.1", "a private (CGNAT) address"},
		{"fd00::1", "a private address"},
		{"239.1.2.3", "a multicast address"},
		{"ff02::1", "a link-local address"},
		{"ff05::1", "a multicast address"},
		{"10.213.0.5", "an address in the sandbox subnet"},
		{"203.0.113.7", "an address of this host"},
		{"255.255.255.255", "a reserved address"},
		{"0.1.2.3", "a reserved address"},
		{"64:ff9b::7f00:1", "a loopback address"},
		{"2002:a9fe:a9fe::1", "a link-local address"},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700:4700::1111", ""},
	}
	for _, c := range cases {
		t.Run(c.ip, func(t *testing.T) {
			err := g.Check("webhook target", "", netip.MustParseAddr(c.ip))
			if c.reason == "" {
				if err != nil {
					t.Fatalf("public address refused: %v", err)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.Reason != c.reason || !errors.Is(err, errdefs.ErrForbidden) {
				t.Fatalf("err = %v, want a refusal as %q", err, c.reason)
			}
			if !strings.Contains(err.Error(), "webhook target") || !strings.Contains(err.Error(), Flag) {
				t.Errorf("message %q does not say what was refused and how to allow it", err)
			}
		})
	}
}

// TestNilGuardRefuses: an unconfigured guard is the strict one.
func TestNilGuardRefuses(t *testing.T) {
	var g *Guard
	if err := g.Check("image registry", "", netip.MustParseAddr("127.0.0.1")); !errors.Is(err, errdefs.ErrForbidden) {
		t.Fatalf("nil guard let loopback through: %v", err)
	}
}

func TestAllow(t *testing.T) {
	g := guard(t, "127.0.0.1", "10.0.0.0/8", "Registry.Internal")
	for _, ip := range []string{"127.0.0.1", "10.9.9.9", "10.213.0.1"} {
		if err := g.Check("x", "", netip.MustParseAddr(ip)); err != nil {
			t.Errorf("%s allowed by config but refused: %v", ip, err)
		}
	}
	if err := g.Check("x", "", netip.MustParseAddr("127.0.0.2")); err == nil {
		t.Error("127.0.0.2 let through by an allowance of 127.0.0.1")
	}
	if err := g.Check("x", "registry.internal.", netip.MustParseAddr("192.168.0.9")); err != nil {
		t.Errorf("allowed host name refused: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "not a host!", "1.2.3.4/x"} {
		if _, err := New(Policy{Allow: []string{bad}}); err == nil {
			t.Errorf("allowance %q accepted", bad)
		}
	}
}

// TestCheckURL: literals in every form a resolver reads, and localhost,
// are refused before anything is dialled; other names wait for the dial.
func TestCheckURL(t *testing.T) {
	g := guard(t)
	refused := []string{
		"http://127.0.0.1/", "http://0x7f000001/", "http://2130706433:8080/", "http://0177.0.0.1/",
		"http://127.1/", "http://[::1]:9/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data",
		"http://10.0.0.1/", "https://localhost:8443/", "http://LOCALHOST./", "http://api.localhost/",
		"http://0/", "http://[fe80::1%25eth0]/",
	}
	for _, raw := range refused {
		u, _ := url.Parse(raw)
		if err := g.CheckURL("webhook target", u); !errors.Is(err, errdefs.ErrForbidden) {
			t.Errorf("%s: err = %v, want a refusal", raw, err)
		}
	}
	for _, raw := range []string{"https://hooks.example.com/x", "http://8.8.8.8/", "http://0x08080808/", "http://123.example/"} {
		u, _ := url.Parse(raw)
		if err := g.CheckURL("webhook target", u); err != nil {
			t.Errorf("%s refused: %v", raw, err)
		}
	}
	u, _ := url.Parse("http://0x7f000001/")
	if err := g.CheckURL("webhook target", u); err == nil || !strings.Contains(err.Error(), "webhook target 127.0.0.1 is a loopback address") {
		t.Errorf("message %v does not name the address", err)
	}
}

func TestParseLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "0x7f000001": "127.0.0.1", "2130706433": "127.0.0.1", "0177.0.0.01": "127.0.0.1",
		"127.1": "127.0.0.1", "10.0x10.1": "10.16.0.1", "[::1]": "::1", "1.2.3.4.": "1.2.3.4",
	} {
		got, ok := ParseLiteral(in)
		if !ok || got.String() != want {
			t.Errorf("ParseLiteral(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "example.com", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "08.1.1.1", "4294967296", "1.2.65536"} {
		if got, ok := ParseLiteral(in); ok {
			t.Errorf("ParseLiteral(%q) = %v, want not a literal", in, got)
		}
	}
}

// TestTransportRefusesAtDialTime: a name that resolves to loopback and a
// redirect from an allowed server to a refused one are both stopped by
// the dialer, and the refused server never sees a request.
func TestTransportRefusesAtDialTime(t *testing.T) {
	hits := make(chan string, 10)
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- "inner" }))
	defer inner.Close()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this host: %v", err)
	}
	refusedSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- "refused" }))
	refusedSrv.Listener = ln
	refusedSrv.Start()
	defer refusedSrv.Close()
	redirect := httptest.NewServer(http.RedirectHandler(refusedSrv.URL+"/x", http.StatusFound))
	defer redirect.Close()

	g := guard(t, "127.0.0.1/32")
	c := &http.Client{Transport: g.Transport("webhook target")}
	get := func(u string) error {
		resp, err := c.Get(u)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err
	}
	if err := get(inner.URL); err != nil {
		t.Fatalf("allowed 127.0.0.1: %v", err)
	}
	if <-hits != "inner" {
		t.Fatal("allowed server not reached")
	}
	err = get(redirect.URL)
	var re *RefusedError
	if !errors.As(err, &re) || re.Addr.String() != "127.0.0.2" {
		t.Fatalf("redirect to 127.0.0.2: err = %v, want a refusal at dial time", err)
	}
	strict := &http.Client{Transport: guard(t).Transport("image registry")}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(inner.URL, "http://"))
	_, err = strict.Get("http://localhost:" + port + "/")
	if !errors.As(err, &re) || re.Host != "localhost" || !strings.Contains(err.Error(), "image registry localhost resolves to a loopback address") {
		t.Fatalf("localhost: err = %v, want a refusal naming the host", err)
	}
	if _, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", ln.Addr().String()); err != nil {
		t.Fatalf("the refused server was not up: %v", err)
	}
	select {
	case h := <-hits:
		t.Fatalf("%s server reached", h)
	default:
	}
}
