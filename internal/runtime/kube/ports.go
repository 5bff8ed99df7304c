package kube

import (
	"context"
	"net"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/runtime"
)

var _ runtime.PortDialer = (*Driver)(nil)

// DialPort implements runtime.PortDialer. A replica cannot enter a pod's
// network namespace, and a server inside may listen on the loopback only,
// so the connection goes to the pod's agent (token first, as every agent
// call), which connects to the port on the pod's loopback and splices.
// The pod's NetworkPolicy does not stand in the way: the agent's port is
// the one it admits.
func (d *Driver) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	c, err := d.DialAgent(ctx, id)
	if err != nil {
		return nil, err
	}
	return protocol.OpenTunnel(ctx, c, port)
}
