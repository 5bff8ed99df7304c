package compat

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
)

// vendorBody has the field types the faces' request bodies use.
type vendorBody struct {
	Template  string            `json:"templateID"`
	Timeout   int               `json:"timeout"`
	CPU       float64           `json:"cpu"`
	Memory    *int64            `json:"memory"`
	Metadata  map[string]string `json:"metadata"`
	Env       map[string]string `json:"envVars"`
	Cmd       []string          `json:"cmd"`
	AutoPause bool              `json:"autoPause"`
	Network   *struct {
		Allow []string `json:"allowOut"`
	} `json:"network"`
}

// FuzzDecode: compat.Decode answers nil or a 400 (a field error naming a
// field), whatever the body and content type.
func FuzzDecode(f *testing.F) {
	for _, b := range []string{
		`{"templateID": "base", "timeout": 300, "metadata": {"a": "b"}}`,
		`{"timeout": "300"}`, `{"timeout": -99999999999999999999}`, `{"cpu": 1e999}`,
		`{"metadata": {"k": 5}}`, `{"network": {"allowOut": "0.0.0.0/0"}}`, `{"cmd": [1, 2]}`,
		"{\"templateID\": \"\x00\x1b\"}", "\xff\xfe", `[]`, `null`, `{"a":1}{"b":2}`,
		strings.Repeat("[", 30000), `{"":""}`,
	} {
		f.Add([]byte(b), "application/json")
	}
	f.Add([]byte("a=b&c"), "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		var v vendorBody
		err := Decode(httptest.NewRecorder(), r, &v)
		if err == nil {
			return
		}
		if status, _, msg := gateway.Describe(err); status != http.StatusBadRequest || msg == "" {
			t.Fatalf("Decode(%q): %d %q, want 400", body, status, msg)
		}
		var fe *errdefs.FieldError
		if errors.As(err, &fe) && fe.Field == "" {
			t.Fatalf("Decode(%q): a field error naming no field: %v", body, err)
		}
		if p := Describe(err); p.Status != http.StatusBadRequest {
			t.Fatalf("Decode(%q): the faces' problem is %d", body, p.Status)
		}
	})
}

// FuzzPagesAndTokens: cursors, page sizes and agent tokens from clients
// parse to a value in range or a 400 naming the field, and no string but
// one the server issued (in any spelling of its bytes) is a valid token.
func FuzzPagesAndTokens(f *testing.F) {
	tk := Tokens{Secret: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	for _, s := range []string{EncodeCursor(3), "", "cDA", "p-1", "%%%", "99999999999999999999", "-5",
		tk.Issue("e2b", "sbx_a", time.Time{}), "e2b_", "e2b_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "\x00"} {
		f.Add(s)
	}
	issued := tk.Issue("e2b", "sbx_a", time.Time{})
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := DecodeCursor("cursor", s); err == nil && n < 1 {
			t.Fatalf("DecodeCursor(%q) = %d", s, n)
		} else if err != nil {
			var fe *errdefs.FieldError
			if !errors.As(err, &fe) || fe.Field != "cursor" {
				t.Fatalf("DecodeCursor(%q): %v", s, err)
			}
		}
		if n, err := PageSize("limit", s, 20, 100); err == nil && (n < 1 || n > 100) {
			t.Fatalf("PageSize(%q) = %d", s, n)
		}
		if tk.Valid("e2b", "sbx_a", s) && !sameToken(s, issued) {
			t.Fatalf("Valid(%q): a token the server did not issue", s)
		}
	})
}

// sameToken reports whether two tokens carry the same bytes (base64 lets
// the unused bits of the last character vary).
func sameToken(a, b string) bool {
	ra, err1 := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(a, "e2b_"))
	rb, err2 := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(b, "e2b_"))
	return err1 == nil && err2 == nil && bytes.Equal(ra, rb)
}
