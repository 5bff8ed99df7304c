package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// echoServer answers each line on a loopback port with the line upper-cased
// and closes once its caller half-closes, after saying "bye".
func echoServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					_, _ = io.WriteString(c, strings.ToUpper(sc.Text())+"\n")
				}
				_, _ = io.WriteString(c, "bye\n")
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func tunnelTo(t *testing.T, addr string, port int) (net.Conn, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc, err := protocol.OpenTunnel(ctx, c, port)
	if err == nil {
		t.Cleanup(func() { tc.Close() })
	}
	return tc, err
}

// TestTunnel: bytes pass both ways through the agent, including what the
// caller sent right behind its request, and a half-close reaches the
// server, whose last words still come back.
func TestTunnel(t *testing.T) {
	ts := newTestAgent(t)
	port := echoServer(t)
	tc, err := tunnelTo(t, strings.TrimPrefix(ts.URL, "http://"), port)
	if err != nil {
		t.Fatal(err)
	}
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(tc, "one\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(tc)
	for _, want := range []string{"ONE\n", "TWO\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("read %q (%v), want %q", got, err, want)
		}
	}
	if err := tc.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(r); string(rest) != "bye\n" || err != nil {
		t.Fatalf("after the half-close: %q, %v", rest, err)
	}
}

// TestTunnelRefusals: a bad port is the caller's error, a port where
// nothing listens is unavailable, and both say which port.
func TestTunnelRefusals(t *testing.T) {
	ts := newTestAgent(t)
	addr := strings.TrimPrefix(ts.URL, "http://")
	if _, err := tunnelTo(t, addr, 0); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), `port "0"`) {
		t.Fatalf("port 0: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, err = tunnelTo(t, addr, closed)
	if !errors.Is(err, errdefs.ErrUnavailable) || errors.Is(err, errdefs.ErrAgentOutdated) || !strings.Contains(err.Error(), "nothing answers") {
		t.Fatalf("closed port: %v", err)
	}
	wantError(t, ts, "GET", "/tcp?port=80", nil, 400, "INVALID_ARGUMENT", "Upgrade: "+protocol.TunnelUpgrade)
}

// TestListenTCPNeedsToken: the agent listens on TCP (a files pod) only
// with a token to check, since anyone who reaches the address may
// connect; with one it listens there.
func TestListenTCPNeedsToken(t *testing.T) {
	t.Setenv(protocol.TokenEnv, "")
	if ln, err := listen(0, "", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), protocol.TokenEnv) {
		if ln != nil {
			ln.Close()
		}
		t.Fatalf("--listen without a token: %v", err)
	}
	t.Setenv(protocol.TokenEnv, "secret")
	ln, err := listen(0, "", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().Network() != "tcp" {
		t.Fatalf("listening on %s", ln.Addr())
	}
	if _, err := listen(0, "", ""); err == nil {
		t.Fatal("no listener named, and no error")
	}
}
