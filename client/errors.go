package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"github.com/hutchdev/hutch/api"
)

// Error is a failure the server (or something in front of it) reported.
// Code is one of the api.Code* constants; for an answer that was not the
// API's error envelope, such as a proxy's HTML 502, Code is derived from
// the status so that the Is* helpers still work.
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

// Error renders the message with the code and request ID, the two things
// anyone debugging the failure will ask for.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	b.WriteString(" (")
	b.WriteString(e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, ", status %d", e.Status)
	}
	if e.RequestID != "" {
		b.WriteString(", request id ")
		b.WriteString(e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// maxErrorBody bounds how much of an error answer is read: enough for any
// envelope, and a readable start of an HTML page.
const maxErrorBody = 64 << 10

// decodeError turns a non-2xx answer into an *Error.
func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var env api.ErrorBody
	if err := json.Unmarshal(body, &env); err == nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if env.Error.RequestID != "" {
			e.RequestID = env.Error.RequestID
		}
		return e
	}
	e.Code = codeForStatus(resp.StatusCode)
	e.Message = fmt.Sprintf("unexpected answer %s", resp.Status)
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType != "" {
		e.Message += " (" + mediaType + ")"
	}
	if text := summarize(body, mediaType); text != "" {
		e.Message += ": " + text
	}
	return e
}

var (
	htmlTags   = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)>|<[^>]*>`)
	whitespace = regexp.MustCompile(`\s+`)
)

// summarize gives the first words of a body that is not an error envelope:
// HTML tags are removed so that a proxy's page reads as its title.
func summarize(body []byte, mediaType string) string {
	s := string(body)
	if mediaType == "text/html" || strings.HasPrefix(strings.TrimSpace(s), "<") {
		s = htmlTags.ReplaceAllString(s, " ")
	}
	s = strings.TrimSpace(whitespace.ReplaceAllString(s, " "))
	const max = 200
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// codeForStatus picks the API code a status most likely stands for.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return api.CodeInvalidArgument
	case http.StatusUnauthorized:
		return api.CodeUnauthenticated
	case http.StatusForbidden:
		return api.CodeForbidden
	case http.StatusNotFound:
		return api.CodeNotFound
	case http.StatusConflict:
		return api.CodeConflict
	case http.StatusTooManyRequests, http.StatusInsufficientStorage:
		return api.CodeResourceExhausted
	case http.StatusNotImplemented:
		return api.CodeNotImplemented
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return api.CodeUnavailable
	}
	return api.CodeInternal
}

// statusForCode is the inverse, for errors that arrive inside a 200
// stream and so have no status of their own.
func statusForCode(code string) int {
	switch code {
	case api.CodeInvalidArgument:
		return http.StatusBadRequest
	case api.CodeUnauthenticated:
		return http.StatusUnauthorized
	case api.CodeForbidden:
		return http.StatusForbidden
	case api.CodeNotFound, api.CodeSandboxNotFound:
		return http.StatusNotFound
	case api.CodeAlreadyExists, api.CodeConflict, api.CodeInvalidState, api.CodeSandboxPaused:
		return http.StatusConflict
	case api.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case api.CodeNotImplemented:
		return http.StatusNotImplemented
	case api.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func hasCode(err error, codes ...string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err says the sandbox, image or key does not
// exist (or belongs to another organisation).
func IsNotFound(err error) bool {
	return hasCode(err, api.CodeNotFound, api.CodeSandboxNotFound)
}

// IsConflict reports whether err is any 409: a taken name, a resource in
// use, an action the current state forbids, or a paused sandbox.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusConflict
}

// IsAlreadyExists reports whether err says the name is taken.
func IsAlreadyExists(err error) bool { return hasCode(err, api.CodeAlreadyExists) }

// IsInvalidState reports whether err says the action is not allowed from
// the sandbox's current state.
func IsInvalidState(err error) bool { return hasCode(err, api.CodeInvalidState) }

// IsInvalidArgument reports whether the request itself was refused.
func IsInvalidArgument(err error) bool { return hasCode(err, api.CodeInvalidArgument) }

// IsUnauthenticated reports whether the API key is missing, unknown or revoked.
func IsUnauthenticated(err error) bool { return hasCode(err, api.CodeUnauthenticated) }

// IsForbidden reports whether the key lacks the right (admin) for the call.
func IsForbidden(err error) bool { return hasCode(err, api.CodeForbidden) }

// IsResourceExhausted reports whether a quota, rate limit or the disk ran out.
func IsResourceExhausted(err error) bool { return hasCode(err, api.CodeResourceExhausted) }

// IsUnavailable reports whether the server (or a proxy before it) could
// not serve now, so that a retry later may succeed.
func IsUnavailable(err error) bool { return hasCode(err, api.CodeUnavailable) }

// IsNotImplemented reports whether the server's runtime lacks the feature.
func IsNotImplemented(err error) bool { return hasCode(err, api.CodeNotImplemented) }

// IsAgentOutdated reports whether err says the sandbox's agent speaks an
// older protocol than the call needs (a sandbox started by an older
// server); restarting the sandbox gives it the server's agent.
func IsAgentOutdated(err error) bool { return hasCode(err, api.CodeAgentOutdated) }

// IsFileNotFound reports whether err says a path in the sandbox does not
// exist.
func IsFileNotFound(err error) bool { return hasCode(err, api.CodeFileNotFound) }
