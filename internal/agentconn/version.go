package agentconn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// handshakeTimeout bounds the version question on a new connection. The
// agent answers it from memory; a sandbox whose agent has not yet
// accepted (just created) is waited for within it.
const handshakeTimeout = 30 * time.Second

// minProtocol is protocol.Min, replaced by tests that need a server
// newer than any agent at hand.
var minProtocol = protocol.Min

// agentVersion is what an agent said about itself when the host connected.
type agentVersion struct {
	Protocol int
	Build    string
}

// handshake asks the agent on a fresh connection c for its protocol and
// build (GET /healthz, answered by every agent ever built; one without
// the header speaks protocol 1). The connection stays open for the
// transport to use.
func handshake(ctx context.Context, c net.Conn) (agentVersion, error) {
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	req := "GET /healthz HTTP/1.1\r\nHost: agent\r\n" + protocol.HeaderVersion + ": " + strconv.Itoa(protocol.Version()) + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return agentVersion{}, err
	}
	// The agent sends nothing before it is asked, so the reader holds
	// this answer alone when it is read to its end.
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return agentVersion{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if br.Buffered() > 0 {
		return agentVersion{}, fmt.Errorf("the agent sent more than its health answer")
	}
	if !stop() {
		return agentVersion{}, context.Cause(ctx)
	}
	_ = c.SetDeadline(time.Time{})
	return agentVersion{Protocol: protocol.Parse(resp.Header.Get(protocol.HeaderVersion)), Build: resp.Header.Get(protocol.HeaderBuild)}, nil
}

// outdated is the error for an agent that speaks protocol have where need
// is required: the remedy is a restart, which gives the sandbox the
// server's own agent binary.
func outdated(id string, v agentVersion, need int) error {
	build := ""
	if v.Build != "" {
		build = " (build " + v.Build + ")"
	}
	return fmt.Errorf("the agent of sandbox %s speaks protocol %d%s, this call needs protocol %d (server build %s): "+
		"restart the sandbox (stop, then start) to give it the server's agent: %w",
		id, v.Protocol, build, need, protocol.Build, errdefs.ErrAgentOutdated)
}
