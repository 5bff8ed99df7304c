package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/httpapi"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestProxyStripsCredentials: no Hutch credential reaches a sandbox,
// whatever let the request in; the app's own Authorization passes.
func TestProxyStripsCredentials(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{Domain: "hutch.test"})
	var org api.Organization
	e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "other"}).decode(t, &org)
	genKey := org.APIKey // a generated key, of another organisation
	if !strings.HasPrefix(genKey, "hk_") {
		t.Fatalf("generated key %q lacks the prefix", genKey)
	}
	e.must(200, "PUT", "/v1/sandboxes/"+e.sb.ID+"/ports/8001/public", map[string]bool{"public": true})
	_, tok := e.sign(8000)

	for _, tc := range []struct {
		name     string
		port     int
		query    string
		header   http.Header
		wantAuth string // the Authorization the app may see
	}{
		// The case: a public port, Basic credentials holding a
		// key, and X-API-Key.
		{"public, Basic with a key and X-API-Key", 8001, "", http.Header{
			"Authorization": {basic("user", genKey)}, "X-Api-Key": {genKey}}, ""},
		{"public, Basic with a key as the user", 8001, "", http.Header{"Authorization": {basic(genKey, "")}}, ""},
		{"public, Bearer with a key", 8001, "", http.Header{"Authorization": {"Bearer " + genKey}}, ""},
		{"public, a bare key", 8001, "", http.Header{"Authorization": {genKey}}, ""},
		{"public, Basic with a key lacking the prefix", 8001, "", http.Header{"Authorization": {basic("admin", bootstrapKey)}}, ""},
		{"public, Bearer with a key lacking the prefix", 8001, "", http.Header{"Authorization": {"Bearer " + bootstrapKey}}, ""},
		{"public, the app's own Basic", 8001, "", http.Header{"Authorization": {basic("alice", "wonderland")}}, basic("alice", "wonderland")},
		{"public, the app's own Bearer", 8001, "", http.Header{"Authorization": {"Bearer eyJhbGciOi.app.jwt"}}, "Bearer eyJhbGciOi.app.jwt"},
		{"key in Authorization", 8000, "", http.Header{"Authorization": {"Bearer " + e.key}}, ""},
		{"key in X-API-Key, the app's own Basic", 8000, "", http.Header{"X-Api-Key": {e.key}, "Authorization": {basic("alice", "wonderland")}}, basic("alice", "wonderland")},
		{"signed query, key headers of other faces", 8000, "?hutch_token=" + tok, http.Header{
			"Open-Sandbox-Api-Key": {genKey}, "X-Vendor-Key": {"token=" + genKey}}, ""},
		{"cookie", 8000, "", http.Header{"Cookie": {"a=1; hutch_token=" + tok + "; __Host-hutch_token=" + tok + "; k=" + genKey + "; b=2"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, form := range []string{"host", "path"} {
				url, host := e.url+"/x?keep=1&z=2"+strings.Replace(tc.query, "?", "&", 1), e.host(tc.port)
				if form == "path" {
					url, host = e.pathURL(tc.port, "/x?keep=1&z=2"+strings.Replace(tc.query, "?", "&", 1)), ""
				}
				got := e.proxied("GET", url, host, tc.header).app(t)
				if a := got.Header.Get("Authorization"); a != tc.wantAuth {
					t.Errorf("%s form: app saw Authorization %q, want %q", form, a, tc.wantAuth)
				}
				for name, vs := range got.Header {
					for _, v := range vs {
						if strings.Contains(v, genKey) || strings.Contains(v, e.key) || strings.Contains(v, tok) {
							t.Errorf("%s form: app saw a credential in %s: %q", form, name, v)
						}
					}
				}
				if got.Query != "keep=1&z=2" {
					t.Errorf("%s form: app saw query %q, want keep=1&z=2 as sent", form, got.Query)
				}
				if c := got.Header.Get("Cookie"); strings.HasPrefix(tc.name, "cookie") && c != "a=1; b=2" {
					t.Errorf("%s form: app saw cookies %q, want a=1; b=2", form, c)
				}
			}
		})
	}
}

// TestProxyForwardedHeaders: the app learns its prefix and the client's
// address from the proxy, never from what the client claimed.
func TestProxyForwardedHeaders(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{Domain: "hutch.test"})
	lie := http.Header{
		"Authorization":      {"Bearer " + e.key},
		"X-Forwarded-Prefix": {"/evil"},
		"X-Real-Ip":          {"203.0.113.9"},
		"X-Forwarded-For":    {"203.0.113.9"},
		"X-Forwarded-Host":   {"evil.example"},
		"Forwarded":          {"for=203.0.113.9;host=evil.example"},
	}
	for _, tc := range []struct{ form, url, host, prefix string }{
		{"host", e.url + "/", e.host(8000), ""},
		{"path", e.pathURL(8000, "/"), "", "/v1/sandboxes/" + e.sb.ID + "/ports/8000"},
	} {
		got := e.proxied("GET", tc.url, tc.host, lie).app(t).Header
		want := map[string]string{
			"X-Forwarded-Prefix": tc.prefix,
			"X-Real-Ip":          "127.0.0.1",
			"X-Forwarded-For":    "127.0.0.1",
			"Forwarded":          "",
		}
		for h, w := range want {
			if v := strings.Join(got.Values(h), ","); v != w {
				t.Errorf("%s form: app saw %s %q, want %q", tc.form, h, v, w)
			}
		}
	}
}
