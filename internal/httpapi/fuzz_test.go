package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
)

// decodeTargets are every JSON body a native handler decodes.
var decodeTargets = []func() any{
	func() any { return new(api.CreateSandboxRequest) },
	func() any { return new(map[string]*string) }, // metadata patch
	func() any { return new(api.RenewExpirationRequest) },
	func() any { return new(api.SetTimeoutRequest) },
	func() any { return new(api.CreateOrganizationRequest) },
	func() any { return new(api.CreateAPIKeyRequest) },
	func() any { return new(api.PullImageRequest) },
	func() any { return new(api.NetworkRequest) },
	func() any { return new(api.PortPublicRequest) },
	func() any { return new(api.PortURLRequest) },
	func() any { return new(api.CreateWebhookRequest) },
	func() any { return new(api.QuotaLimits) },
	func() any { return new(map[string]json.RawMessage) }, // organisation settings patch
}

// FuzzDecode: whatever the body, decode answers nil or an error the one
// error mapping turns into a 400 (a field error naming its field), never
// a panic, a 5xx or a read past the 1 MiB bound.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name": "web", "resources": {"cpu": 0.5, "memoryMB": 512}}`), true)
	f.Add(uint8(0), []byte(`{"name": 5}`), true)
	f.Add(uint8(0), []byte(`{"resources": {"memoryMB": -1, "diskMB": 1e300}}`), true)
	f.Add(uint8(0), []byte(`{"timeoutSeconds": 99999999999999999999999}`), false)
	f.Add(uint8(0), []byte("{\"name\": \"a\u0000b\x01\"}"), false)
	f.Add(uint8(1), []byte(`{"k": 1}`), false)
	f.Add(uint8(3), []byte(`{"timeoutSeconds": "ten"}`), false)
	f.Add(uint8(6), []byte(`{"ref": ["busybox"]}`), false)
	f.Add(uint8(7), []byte(`{"internet": "yes", "allowCIDRs": "10.0.0.0/8"}`), false)
	f.Add(uint8(12), []byte(`{"defaultAutoStopMinutes": null}`), false)
	f.Add(uint8(0), []byte(strings.Repeat(`{"a":`, 20000)), true)
	f.Add(uint8(0), []byte(`{} {}`), true)
	f.Add(uint8(0), []byte(``), false)
	f.Add(uint8(0), []byte(`{"":""}`), false)
	f.Fuzz(func(t *testing.T, which uint8, body []byte, allowEmpty bool) {
		v := decodeTargets[int(which)%len(decodeTargets)]()
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		err := decode(httptest.NewRecorder(), r, v, allowEmpty)
		if err == nil {
			return
		}
		if status, code, msg := gateway.Describe(err); status != http.StatusBadRequest || code != api.CodeInvalidArgument || msg == "" {
			t.Fatalf("decode(%q) into %T: %d %s %q, want 400", body, v, status, code, msg)
		}
		var fe *errdefs.FieldError
		if errors.As(err, &fe) && fe.Field == "" {
			t.Fatalf("decode(%q): a field error naming no field: %v", body, err)
		}
	})
}

// FuzzQuery: the query parsers answer a value in range or a 400 naming
// the parameter, whatever the raw query.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"limit=10", "limit=-1", "limit=99999999999999999999", "wait=maybe", "a=%zz", "limit=1&limit=2",
		"wait=true%00", "state=\x01", ";;;", "limit=+5", "limit=0x10"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{RawQuery: raw}}
		q, err := query(r)
		if err != nil {
			if status, _, _ := gateway.Describe(err); status != http.StatusBadRequest {
				t.Fatalf("query(%q): %d %v", raw, status, err)
			}
			return
		}
		if n, err := queryInt(q, "limit", 50, 1, 1000); err == nil && (n < 1 || n > 1000) {
			t.Fatalf("queryInt(%q) = %d", raw, n)
		} else if err != nil && !strings.Contains(err.Error(), "limit") {
			t.Fatalf("queryInt(%q): %v, want it to name limit", raw, err)
		}
		if _, err := queryBool(q, "wait", true); err != nil && !strings.Contains(err.Error(), "wait") {
			t.Fatalf("queryBool(%q): %v, want it to name wait", raw, err)
		}
	})
}
