package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// classes are the error classes whose own text ends a wrapped message;
// the answer drops that tail, which only repeats the code.
var classes = []error{errdefs.ErrSandboxNotFound, errdefs.ErrNotFound, errdefs.ErrAlreadyExists,
	errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrPaused, errdefs.ErrUnauthenticated,
	errdefs.ErrForbidden, errdefs.ErrResourceExhausted, errdefs.ErrAgentOutdated, errdefs.ErrUnavailable, errdefs.ErrNotImplemented}

func trimClass(err error) string {
	m := err.Error()
	for _, c := range classes {
		m = strings.TrimSuffix(m, ": "+c.Error())
	}
	return m
}

// classify is the one place where errors become HTTP statuses and the
// native API's codes; every face answers from it (a compatible API turns
// the native code into its vendor's words with a table, never by reading
// the message). Internal errors keep their detail in the log, not in the answer.
func classify(err error) (status int, code, message string) {
	var te *sandbox.TransitionError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		return http.StatusConflict, api.CodeInvalidState,
			fmt.Sprintf("%s (current state: %s)", te.Error(), te.From)
	case errors.As(err, &tooBig):
		return http.StatusBadRequest, api.CodeInvalidArgument,
			fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, errdefs.ErrPaused):
		return http.StatusConflict, api.CodeSandboxPaused, err.Error()
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest, api.CodeInvalidArgument, err.Error()
	case errors.Is(err, errdefs.ErrSandboxNotFound):
		return http.StatusNotFound, api.CodeSandboxNotFound, err.Error()
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound, err.Error()
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return http.StatusConflict, api.CodeAlreadyExists, err.Error()
	case errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict, api.CodeConflict, err.Error()
	case errors.Is(err, errdefs.ErrUnauthenticated):
		return http.StatusUnauthorized, api.CodeUnauthenticated, err.Error()
	case errors.Is(err, errdefs.ErrForbidden):
		return http.StatusForbidden, api.CodeForbidden, err.Error()
	case errors.Is(err, errdefs.ErrResourceExhausted):
		return http.StatusTooManyRequests, api.CodeResourceExhausted, err.Error()
	case errors.Is(err, errdefs.ErrAgentOutdated):
		return http.StatusServiceUnavailable, api.CodeAgentOutdated, err.Error()
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()
	case errors.Is(err, errdefs.ErrNotImplemented):
		return http.StatusNotImplemented, api.CodeNotImplemented, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, api.CodeUnavailable, "the operation timed out"
	}
	return http.StatusInternalServerError, api.CodeInternal, "internal error; the server log has the detail under this request ID"
}

// Describe is classify with the answer's final message: an error's own
// text loses the class name that the code already says.
func Describe(err error) (status int, code, message string) {
	status, code, message = classify(err)
	if message == err.Error() {
		message = trimClass(err)
	}
	return status, code, message
}

// LogFailure logs a failed request worth an operator's look: internal
// errors at error level, other 5xx (unavailable, not implemented: the
// caller's problem as often as ours) as warnings.
func LogFailure(log *slog.Logger, r *http.Request, status int, err error) {
	id := RequestID(r.Context())
	switch {
	case status == http.StatusInternalServerError:
		log.Error("request failed", "requestId", id, "method", r.Method, "path", r.URL.Path, "err", err)
	case status >= 500:
		log.Warn("request failed", "requestId", id, "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// NoRoute is the error for a path no route serves.
func NoRoute(r *http.Request) error {
	return fmt.Errorf("no route for %s %s: %w", r.Method, r.URL.Path, errdefs.ErrNotFound)
}
