// Package gateway is the HTTP entry every API face shares: request IDs,
// API-key authentication and organisation scoping, panic recovery, and the
// top-level router that mounts the native API and each compatible API side
// by side, by path prefix and by per-sandbox host name. Each face keeps
// its own routes and error envelope; none has its own auth.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
)

// RequestID is the ID of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// Principal is the authenticated caller of the request ctx belongs to.
func Principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(keyPrincipal).(auth.Principal)
	return p
}

// validRequestID accepts client IDs that are safe to echo into headers
// and logs.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "req_" + hex.EncodeToString(b)
}

// ErrorWriter answers a request with an error in its face's envelope.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// statusWriter remembers the status for the access log and still lets
// handlers flush streams.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Outer gives every request an ID (echoing a sane client one in the
// X-Request-Id header), logs it, and turns a panic into writeErr's answer
// instead of a dropped connection.
func Outer(log *slog.Logger, writeErr ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := RequestID(r.Context())
		if id == "" {
			if id = r.Header.Get("X-Request-Id"); !validRequestID(id) {
				id = newRequestID()
			}
			r = r.WithContext(context.WithValue(r.Context(), keyRequestID, id))
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("handler panic", "requestId", id, "panic", p)
				if sw.status == 0 {
					writeErr(sw, r, fmt.Errorf("panic: %v", p))
				}
			}
			log.Debug("request", "requestId", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}
