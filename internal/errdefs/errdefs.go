// Package errdefs holds the error classes that cross package boundaries.
// Code wraps one of these with %w and adds detail; each transport maps the
// classes to its own status codes in exactly one function.
package errdefs

import (
	"errors"
	"fmt"
)

// Error classes. Match them with errors.Is, never by message text.
var (
	ErrNotFound          = errors.New("not found")
	ErrAlreadyExists     = errors.New("already exists")
	ErrInvalidArgument   = errors.New("invalid argument")
	ErrConflict          = errors.New("conflict")
	ErrPaused            = errors.New("sandbox is paused")
	ErrUnauthenticated   = errors.New("unauthenticated")
	ErrForbidden         = errors.New("forbidden")
	ErrResourceExhausted = errors.New("resource exhausted")
	ErrUnavailable       = errors.New("unavailable")
	ErrNotImplemented    = errors.New("not implemented")
)

// FieldError is an invalid argument tied to one request field, so that the
// API can name the field in its message.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes a FieldError match ErrInvalidArgument.
func (e *FieldError) Unwrap() error { return ErrInvalidArgument }

// InvalidField returns a FieldError for field with a formatted reason.
func InvalidField(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrSandboxNotFound is the not-found class for sandboxes, so that the API
// can answer SANDBOX_NOT_FOUND; it also matches ErrNotFound.
var ErrSandboxNotFound = fmt.Errorf("sandbox %w", ErrNotFound)

// ErrAgentOutdated is the unavailable class for a sandbox whose agent (the
// binary it was started with) speaks an older protocol than the server
// needs, so that the API can answer AGENT_OUTDATED and name the remedy: a
// restart gives the sandbox the server's agent. It also matches
// ErrUnavailable.
var ErrAgentOutdated = fmt.Errorf("agent outdated: %w", ErrUnavailable)
