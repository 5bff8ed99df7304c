package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain name-1.0":            "plain name-1.0",
		"caf\u00e9 \u65e5\u672c":    "caf\u00e9 \u65e5\u672c",
		"a\tb\nc":                   "a b c",
		"\x1b[2J\x1b]0;pwned\x07":   `\x1b[2J\x1b]0;pwned\x07`,
		"csi\u009b31m":              `csi\u009b31m`,
		"raw\x9bbyte\xff":           `raw\x9bbyte\xff`,
		"evil\u202etxt.exe":         `evil\u202etxt.exe`,
		"del\x7f cr\r bs\b nul\x00": `del\x7f cr\x0d bs\x08 nul\x00`,
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// hostile is what a server may send: escapes that clear the screen,
// retitle the window, set the clipboard (OSC 52), C1 CSI, a bidi override.
const hostile = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x07\u009b31m\u202e"

// TestServerTextIsPrintedInert: metadata, names, images, events and error
// messages from the server reach the terminal without one control
// character, in tables, key/value views, errors and --json.
func TestServerTextIsPrintedInert(t *testing.T) {
	sb := api.Sandbox{ID: "sb_1", Name: "n" + hostile, State: "running", Image: "img" + hostile,
		Metadata: map[string]string{"k" + hostile: "v" + hostile}, StateReason: "r" + hostile, CreatedAt: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sandboxes/{id}", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, sb) })
	mux.HandleFunc("GET /v1/sandboxes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.SandboxList{Items: []api.Sandbox{sb}, Pagination: api.Pagination{Page: 1, PageSize: 20, TotalItems: 1, TotalPages: 1}})
	})
	mux.HandleFunc("GET /v1/sandboxes/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.EventList{Items: []api.Event{{Time: time.Now(), Type: "t" + hostile, Message: "m" + hostile}}})
	})
	mux.HandleFunc("POST /v1/sandboxes/{id}/pause", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, 409, api.CodeInvalidState, "cannot"+hostile)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, args := range [][]string{{"get", "sb_1"}, {"ls"}, {"events", "sb_1"}, {"pause", "sb_1"}, {"get", "--json", "sb_1"}} {
		_, out, errOut := runAt(srv.URL, args...)
		for _, text := range []string{out, errOut} {
			for _, r := range text {
				if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f || isBidiControl(r) {
					t.Errorf("hutch %s printed %U: %q", strings.Join(args, " "), r, text)
					break
				}
			}
		}
		if !strings.Contains(out+errOut, `\u001b`) && !strings.Contains(out+errOut, `\x1b`) {
			t.Errorf("hutch %s: the escape is not shown visibly: %q %q", strings.Join(args, " "), out, errOut)
		}
	}
}
