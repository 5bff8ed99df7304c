package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// maxJSON bounds every JSON request body; file uploads are raw or
// multipart and stream instead.
const maxJSON = 1 << 20

// Error is an answer with its own status and API code (PROCESS_NOT_FOUND,
// ...), for the cases the error classes do not name.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func notFound(code, format string, args ...any) error {
	return &Error{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

// classify is the agent transport's one mapping of errors to statuses and
// codes; the control plane passes the answer through unchanged.
func classify(err error) (int, string) {
	var ae *Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.Status, ae.Code
	case errors.As(err, &tooBig):
		return http.StatusBadRequest, api.CodeInvalidArgument
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest, api.CodeInvalidArgument
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound, api.CodeFileNotFound
	case errors.Is(err, fs.ErrExist), errors.Is(err, syscall.ENOTEMPTY):
		return http.StatusConflict, api.CodeAlreadyExists
	case errors.Is(err, syscall.EBUSY):
		// A mount point, or a file in use: removing or moving it is the
		// caller's conflict with the sandbox, not the agent's failure.
		return http.StatusConflict, api.CodeConflict
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return http.StatusForbidden, api.CodeForbidden
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EXDEV),
		errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EINVAL):
		return http.StatusBadRequest, api.CodeInvalidArgument
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return http.StatusInsufficientStorage, api.CodeResourceExhausted
	case errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict, api.CodeConflict
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable, api.CodeUnavailable
	}
	return http.StatusInternalServerError, api.CodeInternal
}

// writeError answers with the API's error envelope. Messages are the
// sandbox's own (paths inside it), so they are shown as they are.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := classify(err)
	msg := err.Error()
	for _, c := range []error{errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrNotFound, errdefs.ErrUnavailable} {
		msg = strings.TrimSuffix(msg, ": "+c.Error())
	}
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: r.Header.Get("X-Request-Id")}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads one JSON object strictly: unknown fields and wrong types
// are 400s naming the field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxJSON)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		// Read the body to its end before any answer starts: a streamed
		// answer must not race the rest of the request on the connection.
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return fmt.Errorf("request body has data after the JSON object: %w", errdefs.ErrInvalidArgument)
		}
		_, _ = io.Copy(io.Discard, body)
		return nil
	case errors.Is(err, io.EOF):
		return fmt.Errorf("request body is empty; a JSON object is expected: %w", errdefs.ErrInvalidArgument)
	case errors.As(err, &tooBig):
		return fmt.Errorf("request body is larger than %d bytes: %w", tooBig.Limit, errdefs.ErrInvalidArgument)
	case errors.As(err, &typ) && typ.Field != "":
		return errdefs.InvalidField(typ.Field, "expected %s, got %s", typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this; its text is stable.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if name == "" {
			return fmt.Errorf("request body has a field with an empty name: %w", errdefs.ErrInvalidArgument)
		}
		return errdefs.InvalidField(name, "unknown field")
	}
	return fmt.Errorf("invalid JSON: %v: %w", err, errdefs.ErrInvalidArgument)
}

// sse writes server-sent events, each flushed at once so that a client
// sees output as it happens. It is safe for concurrent use (stdout and
// stderr are copied by two goroutines).
type sse struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func newSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w)}
	_ = s.rc.Flush()
	return s
}

// send writes one event; after a failed write (the client left) it only
// reports the error.
func (s *sse) send(event string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, s.err = fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, b); s.err == nil {
		s.err = s.rc.Flush()
	}
	return s.err
}

// streamWriter turns writes into stdout or stderr events. A character
// split between two reads is held back until it is whole, so that JSON
// does not replace its halves.
type streamWriter struct {
	s       *sse
	event   string
	pending []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	b := append(w.pending, p...)
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	w.pending = append([]byte(nil), b[cut:]...)
	if cut == 0 {
		return len(p), nil
	}
	if err := w.s.send(w.event, api.OutputChunk{Data: string(b[:cut])}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush sends what was held back.
func (w *streamWriter) flush() {
	if len(w.pending) > 0 {
		_ = w.s.send(w.event, api.OutputChunk{Data: string(w.pending)})
		w.pending = nil
	}
}

// wantsSSE reports whether the caller asked for a stream.
func wantsSSE(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}
