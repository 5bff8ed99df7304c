package oci

import (
	"context"
	"net"
	"sync"
)

// The host's connections to an agent must not outlive a checkpoint: a
// unix socket accepted by the agent lives in the network namespace of
// the side that connected, and CRIU dumps only the sockets of the
// sandbox's own namespace. So agent connections are made from inside
// that namespace, and a checkpoint first closes every one the host still
// holds; the agent's ends are then half-closed sockets, which CRIU
// restores as such (the agent reads EOF and drops them).

// agentConnSet is the host's open connections to each sandbox's agent.
type agentConnSet struct {
	mu sync.Mutex
	m  map[string]map[*agentConn]struct{}
}

// agentConn is one tracked connection; Close forgets it.
type agentConn struct {
	net.Conn
	set  *agentConnSet
	id   string
	once sync.Once
}

func (c *agentConn) Close() error {
	c.once.Do(func() { c.set.forget(c) })
	return c.Conn.Close()
}

func (s *agentConnSet) add(id string, c net.Conn) net.Conn {
	ac := &agentConn{Conn: c, set: s, id: id}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]map[*agentConn]struct{}{}
	}
	if s.m[id] == nil {
		s.m[id] = map[*agentConn]struct{}{}
	}
	s.m[id][ac] = struct{}{}
	return ac
}

func (s *agentConnSet) forget(c *agentConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m[c.id], c)
	if len(s.m[c.id]) == 0 {
		delete(s.m, c.id)
	}
}

// closeAll closes every connection to sandbox id's agent.
func (s *agentConnSet) closeAll(id string) {
	s.mu.Lock()
	conns := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	for c := range conns {
		c.once.Do(func() {})
		c.Conn.Close()
	}
}

// dialAgentIn connects to addr from inside sandbox id's network namespace
// when the driver can checkpoint its sandboxes, and tracks the connection.
func (d *Driver) dialAgentIn(ctx context.Context, id, addr string) (net.Conn, error) {
	netns := ""
	if d.checkpointUnsupported() == "" {
		if rec, err := d.load(id); err == nil && rec.Net != nil {
			netns = rec.Net.Netns
		}
	}
	var c net.Conn
	err := inNetns(netns, func() (err error) {
		var dialer net.Dialer
		c, err = dialer.DialContext(ctx, "unix", addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d.agentConns.add(id, c), nil
}
