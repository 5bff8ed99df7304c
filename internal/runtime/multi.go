package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Multi runs each sandbox on the driver it was created on, among several
// (oci and gvisor): the lifecycle holds one Runtime, and Multi looks up
// which driver a sandbox ID belongs to through Owner, which reads the
// sandbox's stored record (so recovery after a restart finds the same
// driver). A sandbox's driver never changes, so the answer is cached.
//
// Its Capabilities are the union of its drivers'; an action a sandbox's
// own driver lacks is refused with errdefs.ErrNotImplemented naming that
// driver, and Drivers lists what each one declares, so that the API can
// say so up front (/v1/info) rather than fail half-way.
type Multi struct {
	drivers map[string]Runtime
	names   []string // sorted
	owner   func(ctx context.Context, id string) (string, error)
	known   sync.Map // id -> driver name
}

var (
	_ Runtime      = (*Multi)(nil)
	_ AgentDialer  = (*Multi)(nil)
	_ Networker    = (*Multi)(nil)
	_ PortDialer   = (*Multi)(nil)
	_ Archiver     = (*Multi)(nil)
	_ Checkpointer = (*Multi)(nil)
	_ Watcher      = (*Multi)(nil)
	_ Pooler       = (*Multi)(nil)
)

// NewMulti returns a dispatcher over drivers, keyed by the names sandboxes
// record ("oci", "gvisor"); owner names the driver of a sandbox ID.
func NewMulti(drivers map[string]Runtime, owner func(ctx context.Context, id string) (string, error)) (*Multi, error) {
	if len(drivers) == 0 || owner == nil {
		return nil, errors.New("runtime: a dispatcher needs drivers and an owner lookup")
	}
	m := &Multi{drivers: drivers, owner: owner}
	for name, rt := range drivers {
		if err := Check(rt); err != nil {
			return nil, err
		}
		m.names = append(m.names, name)
	}
	slices.Sort(m.names)
	return m, nil
}

// Names lists the drivers, sorted.
func (m *Multi) Names() []string { return slices.Clone(m.names) }

// Driver returns the driver called name.
func (m *Multi) Driver(name string) (Runtime, bool) {
	rt, ok := m.drivers[name]
	return rt, ok
}

// Name implements Runtime.
func (m *Multi) Name() string {
	out := ""
	for i, n := range m.names {
		if i > 0 {
			out += "+"
		}
		out += m.drivers[n].Name()
	}
	return out
}

// Capabilities implements Runtime: the union of the drivers'.
func (m *Multi) Capabilities() Capabilities {
	var c Capabilities
	for _, rt := range m.drivers {
		d := rt.Capabilities()
		c.Pause = c.Pause || d.Pause
		c.DiskLimit = c.DiskLimit || d.DiskLimit
		c.Archive = c.Archive || d.Archive
		c.Network = c.Network || d.Network
		c.Ports = c.Ports || d.Ports
		c.Agent = c.Agent || d.Agent
		c.Checkpoint = c.Checkpoint || d.Checkpoint
		c.Watch = c.Watch || d.Watch
		c.Pool = c.Pool || d.Pool
		c.PoolLimits = c.PoolLimits || d.PoolLimits
	}
	return c
}

// driverOf returns the driver sandbox id was created on.
func (m *Multi) driverOf(ctx context.Context, id string) (string, Runtime, error) {
	if name, ok := m.known.Load(id); ok {
		return name.(string), m.drivers[name.(string)], nil
	}
	name, err := m.owner(ctx, id)
	if err != nil {
		return "", nil, err
	}
	rt, ok := m.drivers[name]
	if !ok {
		return "", nil, fmt.Errorf("sandbox %s runs on %q, which this server does not have: %w", id, name, errdefs.ErrUnavailable)
	}
	m.known.Store(id, name)
	return name, rt, nil
}

func (m *Multi) lacks(name, what string) error {
	return fmt.Errorf("runtime %s cannot %s: %w", name, what, errdefs.ErrNotImplemented)
}

// Create implements Runtime.
func (m *Multi) Create(ctx context.Context, s Spec) error {
	_, rt, err := m.driverOf(ctx, s.ID)
	if err != nil {
		return err
	}
	return rt.Create(ctx, s)
}

// Start implements Runtime.
func (m *Multi) Start(ctx context.Context, s Spec) error {
	_, rt, err := m.driverOf(ctx, s.ID)
	if err != nil {
		return err
	}
	return rt.Start(ctx, s)
}

// Pause implements Runtime.
func (m *Multi) Pause(ctx context.Context, id string) error {
	name, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return err
	}
	if !rt.Capabilities().Pause {
		return m.lacks(name, "pause sandboxes")
	}
	return rt.Pause(ctx, id)
}

// Resume implements Runtime.
func (m *Multi) Resume(ctx context.Context, id string) error {
	_, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return err
	}
	return rt.Resume(ctx, id)
}

// Stop implements Runtime.
func (m *Multi) Stop(ctx context.Context, id string, grace time.Duration) error {
	_, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return err
	}
	return rt.Stop(ctx, id, grace)
}

// Delete implements Runtime. A sandbox whose record is gone is looked for
// on every driver (Delete of a missing sandbox succeeds on each).
func (m *Multi) Delete(ctx context.Context, id string) error {
	_, rt, err := m.driverOf(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		var errs []error
		for _, rt := range m.drivers {
			errs = append(errs, rt.Delete(ctx, id))
		}
		return errors.Join(errs...)
	}
	if err != nil {
		return err
	}
	if err := rt.Delete(ctx, id); err != nil {
		return err
	}
	m.known.Delete(id)
	return nil
}

// Recover implements Runtime.
func (m *Multi) Recover(ctx context.Context, id string) (Status, error) {
	_, rt, err := m.driverOf(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return Status{State: StateMissing}, nil
	}
	if err != nil {
		return Status{}, err
	}
	return rt.Recover(ctx, id)
}

// Stats implements Runtime.
func (m *Multi) Stats(ctx context.Context, id string) (Stats, error) {
	_, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return Stats{}, err
	}
	return rt.Stats(ctx, id)
}

// DialAgent implements AgentDialer.
func (m *Multi) DialAgent(ctx context.Context, id string) (net.Conn, error) {
	name, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return nil, err
	}
	d, ok := AsAgentDialer(rt)
	if !ok {
		return nil, m.lacks(name, "reach an agent")
	}
	return d.DialAgent(ctx, id)
}

// DialPort implements PortDialer.
func (m *Multi) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	name, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return nil, err
	}
	n, ok := AsPortDialer(rt)
	if !ok {
		return nil, m.lacks(name, "dial a sandbox's ports")
	}
	return n.DialPort(ctx, id, port)
}

// SetNetwork implements Networker.
func (m *Multi) SetNetwork(ctx context.Context, id string, p NetworkPolicy) error {
	name, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return err
	}
	n, ok := AsNetworker(rt)
	if !ok {
		return m.lacks(name, "change a sandbox's network")
	}
	return n.SetNetwork(ctx, id, p)
}

func (m *Multi) archiver(ctx context.Context, id string) (Archiver, error) {
	name, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return nil, err
	}
	a, ok := AsArchiver(rt)
	if !ok {
		return nil, m.lacks(name, "archive sandboxes")
	}
	return a, nil
}

// Export implements Archiver.
func (m *Multi) Export(ctx context.Context, id string, w io.Writer) error {
	a, err := m.archiver(ctx, id)
	if err != nil {
		return err
	}
	return a.Export(ctx, id, w)
}

// Discard implements Archiver.
func (m *Multi) Discard(ctx context.Context, id string) error {
	a, err := m.archiver(ctx, id)
	if err != nil {
		return err
	}
	return a.Discard(ctx, id)
}

// Import implements Archiver.
func (m *Multi) Import(ctx context.Context, id string, r io.Reader) error {
	a, err := m.archiver(ctx, id)
	if err != nil {
		return err
	}
	return a.Import(ctx, id, r)
}

func (m *Multi) checkpointer(ctx context.Context, id string) (Checkpointer, error) {
	name, rt, err := m.driverOf(ctx, id)
	if err != nil {
		return nil, err
	}
	c, ok := AsCheckpointer(rt)
	if !ok {
		return nil, m.lacks(name, "checkpoint sandboxes")
	}
	return c, nil
}

// Checkpoint implements Checkpointer.
func (m *Multi) Checkpoint(ctx context.Context, id string) (int64, error) {
	c, err := m.checkpointer(ctx, id)
	if err != nil {
		return 0, err
	}
	return c.Checkpoint(ctx, id)
}

// Restore implements Checkpointer.
func (m *Multi) Restore(ctx context.Context, id string) error {
	c, err := m.checkpointer(ctx, id)
	if err != nil {
		return err
	}
	return c.Restore(ctx, id)
}

// Watch implements Watcher: the exits of every driver that watches.
func (m *Multi) Watch(ctx context.Context) <-chan Exit {
	out := make(chan Exit)
	var wg sync.WaitGroup
	for _, rt := range m.drivers {
		w, ok := AsWatcher(rt)
		if !ok {
			continue
		}
		wg.Add(1)
		go func(in <-chan Exit) {
			defer wg.Done()
			for e := range in {
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}(w.Watch(ctx))
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}
