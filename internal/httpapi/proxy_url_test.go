package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/httpapi"
)

// TestPortURLBase: a signed URL is the host form when the server has a
// proxy domain, and is built on --public-url, else on the address the
// request reached; a client's Host and X-Forwarded-Proto choose nothing
// (they would let anyone who can get a link signed point it elsewhere).
func TestPortURLBase(t *testing.T) {
	for _, tc := range []struct {
		name, domain, publicURL string
		wantURL, wantHost       string // with LISTEN, ID and ID- for the listener, the sandbox ID and its short form
	}{
		{"domain, no public URL", "hutch.test", "",
			"http://8000-ID-.hutch.test:PORT/?hutch_token=", "http://8000-ID-.hutch.test:PORT/?hutch_token="},
		{"no domain, no public URL", "", "",
			"http://LISTEN/v1/sandboxes/ID/ports/8000/?hutch_token=", ""},
		{"domain, public URL", "sbx.example.net", "https://hutch.example.com/",
			"https://8000-ID-.sbx.example.net/?hutch_token=", "https://8000-ID-.sbx.example.net/?hutch_token="},
		{"no domain, public URL with a path and a port", "", "https://example.com:8443/hutch",
			"https://example.com:8443/hutch/v1/sandboxes/ID/ports/8000/?hutch_token=", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newProxyEnv(t, httpapi.ProxyConfig{Domain: tc.domain, PublicURL: tc.publicURL})
			req, err := http.NewRequest("POST", e.url+"/v1/sandboxes/"+e.sb.ID+"/ports/8000/url", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "evil.example"
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-Host", "evil.example")
			req.Header.Set("Authorization", "Bearer "+e.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var pu api.PortURL
			if err := json.NewDecoder(resp.Body).Decode(&pu); err != nil || resp.StatusCode != 200 {
				t.Fatalf("sign: %d %v", resp.StatusCode, err)
			}
			listen := e.srv.Listener.Addr().String()
			_, port, _ := strings.Cut(listen, ":")
			fill := strings.NewReplacer("LISTEN", listen, "PORT", port, "ID-", strings.TrimPrefix(e.sb.ID, "sbx_"), "ID", e.sb.ID)
			if want := fill.Replace(tc.wantURL); !strings.HasPrefix(pu.URL, want) {
				t.Errorf("url = %s, want %s...", pu.URL, want)
			}
			if want := fill.Replace(tc.wantHost); want == "" && pu.HostURL != "" || !strings.HasPrefix(pu.HostURL, want) {
				t.Errorf("hostUrl = %s, want %q...", pu.HostURL, want)
			}
		})
	}
}

// TestPortURLLivesAsAsked: a signed URL's expiry is a whole second (the
// token carries seconds) no earlier than the lifetime asked for.
func TestPortURLLivesAsAsked(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{})
	for _, secs := range []int64{1, 60} {
		before := time.Now()
		var pu api.PortURL
		e.must(200, "POST", "/v1/sandboxes/"+e.sb.ID+"/ports/8000/url", map[string]any{"expiresInSeconds": secs}).decode(t, &pu)
		after := time.Now()
		asked := time.Duration(secs) * time.Second
		if pu.ExpiresAt.Before(before.Add(asked)) || pu.ExpiresAt.After(after.Add(asked+time.Second)) || pu.ExpiresAt.Nanosecond() != 0 {
			t.Errorf("%d s asked between %v and %v: expires at %v", secs, before, after, pu.ExpiresAt)
		}
	}
}
