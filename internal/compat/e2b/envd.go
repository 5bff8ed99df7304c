package e2b

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/compat/e2b/envdpb/filesystem/filesystemconnect"
	"github.com/hutchdev/hutch/internal/compat/e2b/envdpb/process/processconnect"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// envd's requests name their sandbox by host (49983-<id>.<domain>) or, at
// the one sandboxUrl the SDK is given, by this header.
const sandboxHeader = "E2b-Sandbox-Id"

type hostSandboxKey struct{}

func withHostSandbox(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, hostSandboxKey{}, id)
}

// sandboxOf is the sandbox an envd request is for: its host's, else its
// header's.
func sandboxOf(ctx context.Context, h http.Header) string {
	if id, _ := ctx.Value(hostSandboxKey{}).(string); id != "" {
		return id
	}
	return strings.TrimSpace(h.Get(sandboxHeader))
}

// envdHandler serves envd: /health, /files, and the Connect services
// (Connect, gRPC and gRPC-Web protocols, JSON and binary messages).
func (f *face) envdHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", f.envdHealth)
	mux.HandleFunc("GET /files", f.envdREST(f.download))
	mux.HandleFunc("POST /files", f.envdREST(f.upload))
	mux.Handle(flushing(processconnect.NewProcessHandler(&processService{f: f, ptys: newPtyTable()})))
	mux.Handle(flushing(filesystemconnect.NewFilesystemHandler(&filesystemService{f: f})))
	return gateway.Outer(f.Log, f.envdError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			f.envdError(w, r, gateway.NoRoute(r))
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// flushing hands connect-go a writer it can flush: it asserts
// http.Flusher on the writer itself, which the gateway's wrapper reaches
// only through http.ResponseController.
func flushing(pattern string, h http.Handler) (string, http.Handler) {
	return pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(flushWriter{w}, r)
	})
}

type flushWriter struct{ http.ResponseWriter }

func (w flushWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w flushWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// goneError is a sandbox whose token is still good but which is gone
// (deleted, or being deleted): E2B answers those as not running.
type goneError struct{ id string }

func (e goneError) Error() string { return fmt.Sprintf("sandbox %s is not running any more", e.id) }
func (e goneError) Unwrap() error { return errdefs.ErrSandboxNotFound }

// open opens the agent of the request's sandbox for the holder of its
// envd access token (X-Access-Token); the API key is neither needed nor
// passed on. A paused sandbox is refused at once (errdefs.ErrPaused).
func (f *face) open(ctx context.Context, h http.Header) (*compat.AgentCall, error) {
	id := sandboxOf(ctx, h)
	if id == "" {
		return nil, errdefs.InvalidField(sandboxHeader, "names no sandbox: send the header or use the host 49983-<id>.<domain>")
	}
	call, err := f.OpenAgentByToken(ctx, vendor, id, h.Get("X-Access-Token"))
	var te *sandbox.TransitionError
	switch {
	case err == nil:
		return call, nil
	case errors.Is(err, errdefs.ErrNotFound), errors.As(err, &te) && gone(te.From):
		return nil, goneError{id}
	}
	return nil, err
}

// callErr is err of a call made under ctx: when ctx ended, its cause (a
// pause, the caller's deadline) says more than the transport's error.
func callErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// userOf is the sandbox user an envd call asks for (HTTP Basic with the
// name and no password), "" for the agent's default.
func userOf(h http.Header) string {
	scheme, cred, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(string(raw), ":")
	return name
}

// envdError is the one error exit of envd's REST routes: E2B's {code,
// message}. A sandbox that is gone answers 502, which the SDK reads as
// "not running any more"; a paused one 409.
func (f *face) envdError(w http.ResponseWriter, r *http.Request, err error) {
	p := compat.Describe(err)
	if p.Code == api.CodeSandboxNotFound {
		p.Status = http.StatusBadGateway
	}
	gateway.LogFailure(f.Log, r, p.Status, err)
	envelope(w, r, p)
}

// envdFunc is an envd REST handler, run with the sandbox's agent open.
type envdFunc func(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error

func (f *face) envdREST(h envdFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hdr := r.Header
		if hdr.Get("X-Access-Token") == "" && r.URL.Query().Has("signature") {
			tok, err := f.signedToken(r)
			if err != nil {
				f.envdError(w, r, err)
				return
			}
			hdr = hdr.Clone()
			hdr.Set("X-Access-Token", tok)
		}
		call, err := f.open(r.Context(), hdr)
		if err != nil {
			f.envdError(w, r, err)
			return
		}
		defer call.Close()
		if err := h(w, r.WithContext(call.Context()), call); err != nil {
			f.envdError(w, r, callErr(call.Context(), err))
		}
	}
}

// envdHealth answers 204 for a running sandbox. Any sandbox that does not
// run (paused, stopped, gone) answers 502, the status E2B's own proxy
// gives and the only one for which the SDK's isRunning() says false
// rather than throwing; a bad token is still a 401.
func (f *face) envdHealth(w http.ResponseWriter, r *http.Request) {
	call, err := f.open(r.Context(), r.Header)
	var te *sandbox.TransitionError
	switch {
	case err == nil:
		call.Close()
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, errdefs.ErrPaused), errors.As(err, &te), errors.Is(err, errdefs.ErrSandboxNotFound):
		gateway.LogFailure(f.Log, r, http.StatusBadGateway, err)
		envelope(w, r, compat.Problem{Status: http.StatusBadGateway, Message: compat.Describe(err).Message, Err: err})
	default:
		f.envdError(w, r, err)
	}
}

// rpcCodes turns the native API's codes into Connect's: a sandbox that
// is gone is unavailable (the SDK's "not running any more"), one that is
// paused or otherwise not running a failed precondition.
var rpcCodes = map[string]connect.Code{
	api.CodeUnauthenticated:   connect.CodeUnauthenticated,
	api.CodeForbidden:         connect.CodePermissionDenied,
	api.CodeInvalidArgument:   connect.CodeInvalidArgument,
	api.CodeNotFound:          connect.CodeNotFound,
	api.CodeFileNotFound:      connect.CodeNotFound,
	api.CodeProcessNotFound:   connect.CodeNotFound,
	api.CodeContextNotFound:   connect.CodeNotFound,
	api.CodeSandboxNotFound:   connect.CodeUnavailable,
	api.CodeAlreadyExists:     connect.CodeAlreadyExists,
	api.CodeConflict:          connect.CodeFailedPrecondition,
	api.CodeInvalidState:      connect.CodeFailedPrecondition,
	api.CodeSandboxPaused:     connect.CodeFailedPrecondition,
	api.CodeResourceExhausted: connect.CodeResourceExhausted,
	api.CodeUnavailable:       connect.CodeUnavailable,
	api.CodeNotImplemented:    connect.CodeUnimplemented,
	api.CodeInternal:          connect.CodeInternal,
}

// rpcError is the one error exit of envd's Connect services.
func (f *face) rpcError(ctx context.Context, err error) error {
	err = callErr(ctx, err)
	var ce *connect.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	}
	p := compat.Describe(err)
	code, ok := rpcCodes[p.Code]
	if !ok {
		code = connect.CodeUnknown
	}
	if code == connect.CodeInternal || code == connect.CodeUnknown {
		f.Log.Error("envd call failed", "err", err)
	}
	return connect.NewError(code, errors.New(p.Message))
}
