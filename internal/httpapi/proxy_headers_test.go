package httpapi

import (
	"net/http"
	"testing"
)

func TestRewriteSetCookie(t *testing.T) {
	const prefix = "/v1/sandboxes/sbx_a/ports/8000"
	for _, tc := range []struct {
		in, prefix, want string
		ok               bool
	}{
		{"a=1; Path=/", prefix, "a=1; Path=" + prefix + "/", true},
		{"a=1; path=/x; HttpOnly", prefix, "a=1; Path=" + prefix + "/x; HttpOnly", true},
		{"a=1; Path=/; Path=/y", prefix, "a=1; Path=" + prefix + "/; Path=" + prefix + "/y", true},
		{"a=1", prefix, "a=1", true},
		{"a=1; Path=relative", prefix, "a=1; Path=relative", true},
		{"a=1; Domain=hutch.test; Path=/", "", "a=1; Path=/", true},
		{"a=1; domain=.hutch.test; Secure; SameSite=Lax", "", "a=1; Secure; SameSite=Lax", true},
		{"a=1; Domain=api.example.com; Path=/", prefix, "a=1; Path=" + prefix + "/", true},
		{"a=1; Path=/", "", "a=1; Path=/", true},
		{"hutch_token=x; Path=/", "", "", false},
		{" __Host-hutch_token=x; Path=/; Secure", "", "", false},
	} {
		got, ok := rewriteSetCookie(tc.in, tc.prefix)
		if got != tc.want || ok != tc.ok {
			t.Errorf("rewriteSetCookie(%q, %q) = %q %v, want %q %v", tc.in, tc.prefix, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDropQueryParam(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hutch_token=abc", ""},
		{"b=2&hutch_token=abc&a=1", "b=2&a=1"},
		{"hutch%5Ftoken=abc&z=1", "z=1"},
		{"hutch_token&hutch_token=1&x=hutch_token", "x=hutch_token"},
		{"q=a+b&r=%20", "q=a+b&r=%20"},
		{"", ""},
	} {
		if got := dropQueryParam(tc.in, tokenParam); got != tc.want {
			t.Errorf("dropQueryParam(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCrossOrigin(t *testing.T) {
	c := ProxyConfig{PublicURL: "https://api.example.com"}
	for _, tc := range []struct {
		name, host, origin, site string
		pathForm, want           bool
	}{
		{"no browser headers", "8000-a.hutch.test", "", "", false, false},
		{"typed URL", "8000-a.hutch.test", "", "none", false, false},
		{"same origin", "8000-a.hutch.test:7420", "http://8000-a.hutch.test:7420", "same-origin", false, false},
		{"same origin, TLS default port", "8000-a.hutch.test", "https://8000-a.hutch.test:443", "", false, false},
		{"case differs", "8000-A.hutch.test", "http://8000-a.hutch.test", "", false, false},
		{"sibling", "8000-a.hutch.test", "http://8000-b.hutch.test", "same-site", false, true},
		{"sibling, Origin only", "8000-a.hutch.test", "http://8000-b.hutch.test", "", false, true},
		{"sibling, fetch metadata only", "8000-a.hutch.test", "", "same-site", false, true},
		{"other port of the sandbox", "8000-a.hutch.test", "http://3000-a.hutch.test", "", false, true},
		{"opaque", "127.0.0.1:7420", "null", "", true, true},
		{"garbage Origin", "127.0.0.1:7420", "::", "", true, true},
		{"path form behind the public URL", "10.0.0.5:7420", "https://api.example.com", "", true, false},
		{"host form: the public URL is another origin", "8000-a.hutch.test", "https://api.example.com", "", false, true},
		{"IPv6 with default port", "[::1]", "http://[::1]:80", "", true, false},
	} {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if got := c.crossOrigin(r, tc.pathForm); got != tc.want {
			t.Errorf("%s: crossOrigin = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStripCredentials(t *testing.T) {
	h := http.Header{
		"X-Api-Key":            {"anything at all"},
		"Open-Sandbox-Api-Key": {"custom"},
		"Authorization":        {"Bearer hk_x"},
		"X-Other":              {"scheme hk_abc"},
		"X-Fine":               {"hk"},
		"Accept":               {"text/html"},
		"Cookie":               {"a=1; hutch_token=t; __Host-hutch_token=u", "k=\"hk_q\"; b=2"},
	}
	stripCredentials(h, true)
	want := http.Header{"X-Fine": {"hk"}, "Accept": {"text/html"}, "Cookie": {"a=1; b=2"}}
	if len(h) != len(want) {
		t.Fatalf("left %v, want %v", h, want)
	}
	for k, v := range want {
		if h.Get(k) != v[0] {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v[0])
		}
	}
	h = http.Header{"Authorization": {"Basic YWxpY2U6d29uZGVybGFuZA=="}}
	if stripCredentials(h, false); h.Get("Authorization") == "" {
		t.Errorf("the app's own Authorization was dropped")
	}
}
