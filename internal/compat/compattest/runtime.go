package compattest

import (
	"context"
	"net"
	"strconv"
	"sync"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
)

// Runtime is the unit-test runtime whose sandboxes all share one real
// Hutch agent served in the test process on a unix socket: agent calls
// run real commands and touch real files of the test machine (keep them
// under the test's temporary directories). Every sandbox's ports are the
// test machine's own loopback ports.
type Runtime struct {
	*fakeruntime.Fake
	sock string

	mu    sync.Mutex
	gates map[string]chan struct{} // op -> closed when that op may go on
}

var (
	_ runtime.AgentDialer = (*Runtime)(nil)
	_ runtime.Networker   = (*Runtime)(nil)
	_ runtime.PortDialer  = (*Runtime)(nil)
)

// Capabilities declares the agent and the network besides the fake's own.
func (r *Runtime) Capabilities() runtime.Capabilities {
	c := r.Fake.Capabilities()
	c.Agent, c.Network, c.Ports = true, true, true
	return c
}

// DialAgent reaches the one in-process agent.
func (r *Runtime) DialAgent(ctx context.Context, id string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", r.sock)
}

// DialPort reaches the test machine's own loopback.
func (r *Runtime) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

// SetNetwork accepts any policy; the fake has no network to change.
func (r *Runtime) SetNetwork(ctx context.Context, id string, p runtime.NetworkPolicy) error {
	return nil
}

// Pause waits for the gate BlockNext("pause") set, if any, so that a test
// can look at a sandbox while it is pausing.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	r.mu.Lock()
	gate := r.gates["pause"]
	delete(r.gates, "pause")
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return r.Fake.Pause(ctx, id)
}

// BlockNext holds the next op (only "pause" today) until release is
// called.
func (r *Runtime) BlockNext(op string) (release func()) {
	gate := make(chan struct{})
	r.mu.Lock()
	if r.gates == nil {
		r.gates = map[string]chan struct{}{}
	}
	r.gates[op] = gate
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// checkpointing is Runtime that can also checkpoint (the fake's
// checkpoints, over the same sandboxes): a pause that releases memory
// moves the sandbox to disk.
type checkpointing struct {
	*Runtime
	cp *fakeruntime.Checkpointing
}

var _ runtime.Checkpointer = (*checkpointing)(nil)

func (r *checkpointing) Capabilities() runtime.Capabilities {
	c := r.Runtime.Capabilities()
	c.Checkpoint = true
	return c
}

func (r *checkpointing) Checkpoint(ctx context.Context, id string) (int64, error) {
	return r.cp.Checkpoint(ctx, id)
}

func (r *checkpointing) Restore(ctx context.Context, id string) error { return r.cp.Restore(ctx, id) }

// Resume refuses a sandbox still on disk, as the fake's checkpoints do.
func (r *checkpointing) Resume(ctx context.Context, id string) error {
	if r.cp.OnDisk(id) {
		return r.cp.Resume(ctx, id)
	}
	return r.Runtime.Resume(ctx, id)
}
