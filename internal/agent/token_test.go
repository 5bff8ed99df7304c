package agent

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
)

func TestTokenListener(t *testing.T) {
	t.Setenv(protocol.TokenEnv, "s3cret")
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := withToken(raw)
	if _, ok := os.LookupEnv(protocol.TokenEnv); ok {
		t.Error("the token stays in the agent's environment, which its processes inherit")
	}
	srv := &http.Server{Handler: NewServer(nil)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	call := func(first string) (string, error) {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, first+"GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.Status, nil
	}
	for name, first := range map[string]string{"none": "", "wrong": string(protocol.TokenLine("s3creT"))} {
		if status, err := call(first); err == nil {
			t.Errorf("token %s: the agent answered %s", name, status)
		}
	}
	if status, err := call(string(protocol.TokenLine("s3cret"))); err != nil || status != "204 No Content" {
		t.Errorf("with the token: %q %v", status, err)
	}
}

func TestNoTokenNoCheck(t *testing.T) {
	os.Unsetenv(protocol.TokenEnv)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if ln := withToken(raw); ln != raw {
		t.Error("a listener was wrapped without a token (the host's unix socket needs none)")
	}
}
