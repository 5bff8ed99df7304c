package agent

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// decodeTargets are the agent's JSON request bodies.
var decodeTargets = []func() any{
	func() any { return new(api.ExecRequest) },
	func() any { return new(api.MoveRequest) },
	func() any { return new(api.ChmodRequest) },
	func() any { return new(api.MkdirRequest) },
	func() any { return new(api.SignalRequest) },
	func() any { return new(api.StdinRequest) },
	func() any { return new(api.CreateContextRequest) },
	func() any { return new(api.RunCodeRequest) },
}

// FuzzDecode: whatever the body, decode answers nil or a 400 (a field
// error naming a field), never a panic or another status.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), []byte(`{"command": ["sh", "-c", "echo hi"], "timeoutSeconds": 5}`))
	f.Add(uint8(0), []byte(`{"command": "sh"}`))
	f.Add(uint8(1), []byte(`{"from": "/", "to": "/x"}`))
	f.Add(uint8(2), []byte(`{"path": "/tmp", "mode": 755}`))
	f.Add(uint8(4), []byte(`{"signal": -1}`))
	f.Add(uint8(5), []byte(`{"data": "\u0000\u001b[A"}`))
	f.Add(uint8(7), []byte(strings.Repeat("[", 20000)))
	f.Add(uint8(0), []byte(`{"timeoutSeconds": 1e400}`))
	f.Add(uint8(3), []byte("{\"path\": \"\xff\xfe\"}"))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		v := decodeTargets[int(which)%len(decodeTargets)]()
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		err := decode(httptest.NewRecorder(), r, v)
		if err == nil {
			return
		}
		if status, code := classify(err); status != http.StatusBadRequest || code != api.CodeInvalidArgument {
			t.Fatalf("decode(%q) into %T: %d %s (%v), want 400", body, v, status, code, err)
		}
		var fe *errdefs.FieldError
		if errors.As(err, &fe) && fe.Field == "" {
			t.Fatalf("decode(%q): a field error naming no field: %v", body, err)
		}
	})
}

// FuzzResolve: an accepted path is absolute, clean, NUL-free and never
// climbs above the root; a refused one is a 400 naming the field.
func FuzzResolve(f *testing.F) {
	for _, p := range []string{"/", "a/b", "../..", "/a/../../b", "/a/./b//c/", "a\x00b", "", ".", "/..", "~/x", "\n/etc"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := resolve("path", p)
		if err != nil {
			var fe *errdefs.FieldError
			if !errors.As(err, &fe) || fe.Field != "path" {
				t.Fatalf("resolve(%q): %v, want a field error naming path", p, err)
			}
			return
		}
		if !filepath.IsAbs(got) || filepath.Clean(got) != got || strings.ContainsRune(got, 0) {
			t.Fatalf("resolve(%q) = %q, want an absolute clean path", p, got)
		}
		for _, el := range strings.Split(got, "/") {
			if el == ".." {
				t.Fatalf("resolve(%q) = %q climbs", p, got)
			}
		}
	})
}

// FuzzQueryParsers: the agent's parsers of query and path values answer a
// value in range or a field error, never a panic.
func FuzzQueryParsers(f *testing.F) {
	for _, s := range []string{"0644", "7777", "10000", "-1", "0x1ff", "", "SIGKILL", "term", "65", "0", "99999999999999999999", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := parseMode(s, 0o644); err == nil && m.Perm() > 0o777 {
			t.Fatalf("parseMode(%q) = %v", s, m)
		} else if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("parseMode(%q): %v", s, err)
		}
		if sig, err := parseSignal(s); err == nil && (sig <= 0 || sig >= 65) {
			t.Fatalf("parseSignal(%q) = %d", s, sig)
		} else if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("parseSignal(%q): %v", s, err)
		}
		if n, err := termSize(s, "cols", 80); err == nil && (n < 1 || n > 1000) {
			t.Fatalf("termSize(%q) = %d", s, n)
		}
		r := httptest.NewRequest("GET", "/processes/x", nil)
		r.SetPathValue("pid", s)
		if _, err := newProcessTable().lookup(r); err == nil {
			t.Fatalf("lookup(%q) found a process in an empty table", s)
		}
	})
}
