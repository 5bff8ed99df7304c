package protocol

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// OpenTunnel asks the agent on c for a connection to port on the
// sandbox's loopback (GET /tcp, upgraded to TunnelUpgrade) and returns c
// carrying that port's bytes. c is closed when the agent refuses; the
// agent's reason keeps its class (a bad port is ErrInvalidArgument,
// nothing listening ErrUnavailable, an agent without the route
// ErrAgentOutdated).
func OpenTunnel(ctx context.Context, c net.Conn, port int) (net.Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://agent/tcp?port="+strconv.Itoa(port), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", TunnelUpgrade)
	req.Header.Set(HeaderVersion, strconv.Itoa(Version()))
	br := bufio.NewReader(c)
	resp, err := func() (*http.Response, error) {
		if err := req.Write(c); err != nil {
			return nil, err
		}
		return http.ReadResponse(br, req)
	}()
	if !stop() || err != nil {
		c.Close()
		return nil, fmt.Errorf("port %d through the agent: %w", port, firstErr(ctx.Err(), err))
	}
	_ = c.SetDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return &bufferedConn{Conn: c, r: br}, nil
	}
	defer c.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e api.ErrorBody
	msg := resp.Status
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	class := errdefs.ErrUnavailable
	switch {
	case Parse(resp.Header.Get(HeaderVersion)) < Needs("GET", "/tcp"):
		class = errdefs.ErrAgentOutdated
	case resp.StatusCode == http.StatusBadRequest:
		class = errdefs.ErrInvalidArgument
	}
	return nil, fmt.Errorf("port %d through the agent: %s: %w", port, msg, class)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// bufferedConn is a connection whose first bytes were read ahead into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the connection where it can.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
