package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

func errorBody(code, msg, rid string) api.ErrorBody {
	return api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: rid}}
}

func TestErrorEnvelopeDecoded(t *testing.T) {
	c, _ := fake(t, reply(http.StatusNotFound, errorBody(api.CodeSandboxNotFound, `sandbox "x" not found`, "req-9")))
	_, err := c.GetSandbox(context.Background(), "x")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v", err, err)
	}
	want := Error{Status: 404, Code: api.CodeSandboxNotFound, Message: `sandbox "x" not found`, RequestID: "req-9"}
	if *e != want {
		t.Errorf("err = %+v, want %+v", *e, want)
	}
	if !IsNotFound(err) || IsConflict(err) || IsInvalidState(err) {
		t.Errorf("helpers disagree for %v", err)
	}
	wrapped := fmt.Errorf("get: %w", err)
	if !IsNotFound(wrapped) {
		t.Error("IsNotFound does not see through wrapping")
	}
	if got := err.Error(); got != `sandbox "x" not found (SANDBOX_NOT_FOUND, status 404, request id req-9)` {
		t.Errorf("Error() = %s", got)
	}
}

func TestErrorHelpers(t *testing.T) {
	cases := []struct {
		status int
		code   string
		is     func(error) bool
	}{
		{409, api.CodeInvalidState, IsInvalidState},
		{409, api.CodeAlreadyExists, IsAlreadyExists},
		{409, api.CodeSandboxPaused, IsConflict},
		{400, api.CodeInvalidArgument, IsInvalidArgument},
		{401, api.CodeUnauthenticated, IsUnauthenticated},
		{403, api.CodeForbidden, IsForbidden},
		{507, api.CodeResourceExhausted, IsResourceExhausted},
		{501, api.CodeNotImplemented, IsNotImplemented},
		{503, api.CodeUnavailable, IsUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			c, _ := fake(t, reply(tc.status, errorBody(tc.code, "m", "")))
			_, err := c.Resume(context.Background(), "sb")
			if !tc.is(err) {
				t.Errorf("helper false for %v", err)
			}
			var e *Error
			if errors.As(err, &e) && e.RequestID != "req-1" {
				t.Errorf("request id = %q, want the header's", e.RequestID)
			}
			if IsNotFound(err) {
				t.Errorf("IsNotFound true for %v", err)
			}
		})
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	c, _ := fake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title><style>body{x:y}</style></head>\n"+
			"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")
	})
	_, err := c.ListSandboxes(context.Background(), ListOptions{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v", err, err)
	}
	if e.Status != 502 || e.Code != api.CodeUnavailable || !IsUnavailable(err) {
		t.Errorf("err = %+v", e)
	}
	for _, want := range []string{"502 Bad Gateway", "text/html", "nginx"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	if strings.ContainsAny(e.Message, "<>") || strings.Contains(e.Message, "x:y") {
		t.Errorf("message %q keeps markup", e.Message)
	}
}

func TestEmptyErrorBody(t *testing.T) {
	c, _ := fake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	_, err := c.Info(context.Background())
	if !IsUnauthenticated(err) || !strings.Contains(err.Error(), "401") {
		t.Errorf("err = %v", err)
	}
}

func TestBadSuccessBody(t *testing.T) {
	c, _ := fake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "not json") })
	_, err := c.GetSandbox(context.Background(), "sb")
	if err == nil || !strings.Contains(err.Error(), "req-1") {
		t.Errorf("err = %v, want a decode error naming the request id", err)
	}
}
