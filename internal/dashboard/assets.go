package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// dist is the built dashboard: index.html and the bundles it names, made
// from web/ by `go generate ./internal/dashboard` (bundle/main.go).
//
//go:embed dist
var dist embed.FS

// pageCSP keeps the page to its own scripts and its own origin's API: an
// injected script could read the API key from the session. Styles may be
// inline because the terminal (xterm.js) sets its own; frames may load any
// http(s) URL for the preview of a sandbox's port, which runs on its own
// origin.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; frame-src http: https:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one built file, with its validator.
type asset struct {
	body  []byte
	etag  string // the content's hash, also the ?v= the page asks for
	ctype string
}

type assets map[string]asset

func loadAssets() assets {
	out := assets{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[path.Base(p)] = asset{body: b, etag: hex.EncodeToString(sum[:8]), ctype: ctype}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("dashboard: the embedded assets cannot be read: %v", err)) // a broken build, not a run-time condition
	}
	return out
}

// page serves index.html: never cached, so that an upgraded server's page
// names its new bundles.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets["index.html"]
	if !ok {
		h.writeError(w, r, fmt.Errorf("this binary was built without the dashboard (run go generate ./internal/dashboard): %w", errdefs.ErrNotFound))
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("ETag", `"`+a.etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// asset serves a bundle. The page asks for each as name?v=<hash>: that URL
// never changes meaning, so it may be cached for good; any other is
// revalidated.
func (h *Handler) asset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	a, ok := h.assets[name]
	if !ok || name == "index.html" {
		return fmt.Errorf("the dashboard has no file %q: %w", name, errdefs.ErrNotFound)
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("ETag", `"`+a.etag+`"`)
	if r.URL.Query().Get("v") == a.etag {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	return nil
}
