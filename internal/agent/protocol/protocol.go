// Package protocol is the version of the language the host and a
// sandbox's agent speak. A running sandbox keeps the agent binary it was
// started with (the server's own binary, bind-mounted read-only at
// create or start), so after the server is upgraded its host side may
// meet agents of older builds. Every agent names its protocol and build
// in the headers of every answer; the host checks them on each new
// connection and speaks an older protocol down to Min, refusing older
// agents, and the calls an older agent lacks, with errdefs.ErrAgentOutdated.
//
// Protocol 1 is every agent before the version existed (no header).
// Protocol 2 added the tar routes (GET and PUT /files/archive).
// Protocol 3 added the port tunnel (GET /tcp, see TunnelUpgrade).
package protocol

import (
	"strconv"
	"strings"
)

// Headers on every agent answer, and on the host's requests (so that a
// newer agent can tell which protocol the host speaks).
const (
	HeaderVersion = "Hutch-Agent-Protocol"
	HeaderBuild   = "Hutch-Agent-Build"
)

// version and minVersion are strings so that a build can set them with
// -ldflags "-X github.com/hutchdev/hutch/internal/agent/protocol.version=N",
// which is how the upgrade tests make an older and a newer binary.
var (
	version    = "3"
	minVersion = "1"
)

// Build is the binary's version, reported beside the protocol; main sets it.
var Build = "dev"

// Version is the protocol this build speaks, as agent and as host.
func Version() int { return atoi(version, 2) }

// Min is the oldest agent protocol this build's host still speaks.
func Min() int { return atoi(minVersion, 1) }

func atoi(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return def
	}
	return n
}

// Parse reads an answer's HeaderVersion; an answer without one comes from
// an agent older than the header: protocol 1.
func Parse(h string) int {
	return atoi(strings.TrimSpace(h), 1)
}

// routes added after protocol 1, by the agent route (method and path)
// and the protocol that added it.
var routes = map[string]int{
	"GET /files/archive": 2,
	"PUT /files/archive": 2,
	"GET /tcp":           3,
}

// TunnelUpgrade is the Upgrade token of GET /tcp?port=N, which turns the
// connection into one to port N on the sandbox's loopback.
const TunnelUpgrade = "hutch-tcp"

// Needs is the protocol an agent must speak to serve method and path (an
// agent route such as /exec).
func Needs(method, path string) int {
	if v, ok := routes[method+" "+path]; ok {
		return v
	}
	return 1
}
