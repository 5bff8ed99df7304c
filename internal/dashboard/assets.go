package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
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

// asset is one built file, with its validator and, when that is
// smaller, its gzip encoding (the bundle with xterm.js shrinks from about
// 400 KB to 110 KB, which a phone on a slow link feels).
type asset struct {
	body  []byte
	gz    []byte // nil when gzip does not make it smaller
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
		out[path.Base(p)] = asset{body: b, gz: gzipped(b), etag: hex.EncodeToString(sum[:8]), ctype: ctype}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("dashboard: the embedded assets cannot be read: %v", err)) // a broken build, not a run-time condition
	}
	return out
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

// send answers with a's bytes, gzipped when the client takes gzip (the
// encoding has its own ETag, as the bytes differ).
func (a asset) send(w http.ResponseWriter, r *http.Request) {
	body, etag := a.body, a.etag
	w.Header().Add("Vary", "Accept-Encoding")
	if a.gz != nil && acceptsGzip(r) {
		body, etag = a.gz, a.etag+"-gz"
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
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
	a.send(w, r)
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
	if r.URL.Query().Get("v") == a.etag {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	a.send(w, r)
	return nil
}
