package compat

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tk := Tokens{Secret: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }}
	forever := tk.Issue("e2b", "sbx_a", time.Time{})
	hour := tk.Issue("hopx", "sbx_a", now.Add(time.Hour))
	for _, c := range []struct {
		name, vendor, id, token string
		want                    bool
	}{
		{"own sandbox", "e2b", "sbx_a", forever, true},
		{"other sandbox", "e2b", "sbx_b", forever, false},
		{"other vendor", "hopx", "sbx_a", forever, false},
		{"expiring, live", "hopx", "sbx_a", hour, true},
		{"tampered", "e2b", "sbx_a", forever[:len(forever)-2] + "AA", false},
		{"unused bits set", "e2b", "sbx_a", sameBytes(forever), false},
		{"empty", "e2b", "sbx_a", "", false},
		{"garbage", "e2b", "sbx_a", "e2b_!!", false},
	} {
		if got := tk.Valid(c.vendor, c.id, c.token); got != c.want {
			t.Errorf("%s: Valid = %v", c.name, got)
		}
	}
	now = now.Add(time.Hour)
	if tk.Valid("hopx", "sbx_a", hour) {
		t.Error("an expired token is still valid")
	}
	other := Tokens{Secret: []byte("another secret of 32 bytes......")}
	if other.Valid("e2b", "sbx_a", forever) {
		t.Error("a token of another server's secret is valid")
	}
	if (Tokens{}).Valid("e2b", "sbx_a", forever) {
		t.Error("a server without a secret accepts tokens")
	}
}

func TestCursorsAndPageSizes(t *testing.T) {
	for _, page := range []int{1, 2, 37} {
		got, err := DecodeCursor("cursor", EncodeCursor(page))
		if err != nil || got != page {
			t.Errorf("page %d -> %d, %v", page, got, err)
		}
	}
	if p, err := DecodeCursor("cursor", ""); p != 1 || err != nil {
		t.Errorf("empty cursor: %d %v", p, err)
	}
	for _, bad := range []string{"zzz", EncodeCursor(0), "cDA", "%%%"} {
		_, err := DecodeCursor("next_token", bad)
		var fe *errdefs.FieldError
		if !errors.As(err, &fe) || fe.Field != "next_token" {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	if n, err := PageSize("limit", "500", 20, 100); n != 100 || err != nil {
		t.Errorf("capped size: %d %v", n, err)
	}
	if _, err := PageSize("limit", "-1", 20, 100); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("negative size: %v", err)
	}
}

func TestDecodeIsLenientButTyped(t *testing.T) {
	var v struct {
		Timeout int `json:"timeout"`
	}
	req := func(body, ct string) *http.Request {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		return r
	}
	if err := Decode(httptest.NewRecorder(), req(`{"timeout": 5, "newField": true}`, "application/json"), &v); err != nil || v.Timeout != 5 {
		t.Fatalf("unknown field refused: %v %+v", err, v)
	}
	err := Decode(httptest.NewRecorder(), req(`{"timeout": "x"}`, "application/json"), &v)
	var fe *errdefs.FieldError
	if !errors.As(err, &fe) || fe.Field != "timeout" {
		t.Fatalf("wrong type: %v", err)
	}
	if err := Decode(httptest.NewRecorder(), req(`{`, "application/json"), &v); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("broken JSON: %v", err)
	}
	if err := Decode(httptest.NewRecorder(), req(``, "application/json"), &v); err != nil {
		t.Fatalf("empty body: %v", err)
	}
	if err := Decode(httptest.NewRecorder(), req(`a=b`, "application/x-www-form-urlencoded"), &v); err != nil {
		t.Fatalf("form body of a bodiless action: %v", err)
	}
}

func TestURLs(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:7420/x", nil)
	d := Deps{Domain: "sb.local"}
	if got := d.BaseURL(r); got != "http://127.0.0.1:7420" {
		t.Errorf("base = %q", got)
	}
	r.Header.Set("X-Forwarded-Proto", "https")
	if got := d.BaseURL(r); got != "https://127.0.0.1:7420" {
		t.Errorf("behind TLS proxy = %q", got)
	}
	if got := d.SandboxHost(r, "sbx_abc", "49983"); got != "49983-abc.sb.local:7420" {
		t.Errorf("host = %q", got)
	}
	d.PublicURL = "https://hutch.example.com/"
	if got := d.BaseURL(r); got != "https://hutch.example.com" {
		t.Errorf("public = %q", got)
	}
	if got := HostOnly("https://h:1/p"); got != "h:1/p" {
		t.Errorf("host only = %q", got)
	}
	if got := (Deps{}).SandboxHost(r, "sbx_abc", "1"); got != "" {
		t.Errorf("no domain = %q", got)
	}
}

// sameBytes changes the last character of token to another that lenient
// base64 decodes to the same bytes: the two bits it does not use differ.
func sameBytes(token string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, token[len(token)-1])
	return token[:len(token)-1] + string(alphabet[i^1])
}
