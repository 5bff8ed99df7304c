package runtime

import (
	"context"
	"fmt"
	"strings"
)

// Checkpointer is implemented by drivers that can move a paused sandbox's
// memory to disk and bring it back (Capabilities.Checkpoint): the
// processes, their memory and open files survive, their RAM is released.
type Checkpointer interface {
	// Checkpoint writes the paused sandbox's processes to disk and ends
	// them, reporting the size of what it wrote.
	Checkpoint(ctx context.Context, id string) (sizeBytes int64, err error)
	// Restore brings a checkpointed sandbox back, paused as it was.
	Restore(ctx context.Context, id string) error
}

// HostLimited is implemented by drivers whose optional features depend on
// the host (the OCI driver checkpoints only where CRIU 4 is installed).
// For a capability such a driver implements but does not declare, Missing
// says what the host lacks ("" when it lacks nothing): Check accepts the
// pair, and the lifecycle names the reason when an action needs it.
type HostLimited interface {
	Missing(capability string) string
}

// MissingReason says why rt does not offer capability, or "" when rt
// gives no reason.
func MissingReason(rt Runtime, capability string) string {
	if h, ok := rt.(HostLimited); ok {
		return h.Missing(capability)
	}
	return ""
}

// Watcher is implemented by drivers that notice at once when a sandbox's
// processes end on their own (Capabilities.Watch): killed by the OOM
// killer or from outside, or its command done. Without one, such a
// sandbox is found only by the next Recover.
type Watcher interface {
	// Watch reports, until ctx ends, each sandbox whose processes ended
	// without the driver being asked to end them; the lifecycle then
	// settles it through Recover. Ends noticed before Watch is called are
	// reported too. It is meant for one consumer.
	Watch(ctx context.Context) <-chan Exit
}

// Exit is one sandbox whose processes ended on their own.
type Exit struct {
	ID string
}

// AsAgentDialer returns rt's agent dialer when it declares and has one.
func AsAgentDialer(rt Runtime) (AgentDialer, bool) { return as[AgentDialer](rt, Capabilities.hasAgent) }

// AsNetworker returns rt's networker when it declares and has one.
func AsNetworker(rt Runtime) (Networker, bool) { return as[Networker](rt, Capabilities.hasNetwork) }

// AsPortDialer returns rt's port dialer when it declares and has one.
func AsPortDialer(rt Runtime) (PortDialer, bool) { return as[PortDialer](rt, Capabilities.hasPorts) }

// AsArchiver returns rt's archiver when it declares and has one.
func AsArchiver(rt Runtime) (Archiver, bool) { return as[Archiver](rt, Capabilities.hasArchive) }

// AsCheckpointer returns rt's checkpointer when it declares and has one.
func AsCheckpointer(rt Runtime) (Checkpointer, bool) {
	return as[Checkpointer](rt, Capabilities.hasCheckpoint)
}

// AsWatcher returns rt's watcher when it declares and has one.
func AsWatcher(rt Runtime) (Watcher, bool) { return as[Watcher](rt, Capabilities.hasWatch) }

func (c Capabilities) hasAgent() bool      { return c.Agent }
func (c Capabilities) hasNetwork() bool    { return c.Network }
func (c Capabilities) hasPorts() bool      { return c.Ports }
func (c Capabilities) hasArchive() bool    { return c.Archive }
func (c Capabilities) hasCheckpoint() bool { return c.Checkpoint }
func (c Capabilities) hasWatch() bool      { return c.Watch }

func as[T any](rt Runtime, declared func(Capabilities) bool) (T, bool) {
	var zero T
	if rt == nil || !declared(rt.Capabilities()) {
		return zero, false
	}
	v, ok := rt.(T)
	if !ok {
		return zero, false
	}
	return v, true
}

// Check reports a driver whose flags and interfaces disagree: a flag set
// without the interface, or an interface that its flag does not declare.
// The server refuses to start on such a driver and runtimetest fails it.
func Check(rt Runtime) error {
	c := rt.Capabilities()
	_, agent := rt.(AgentDialer)
	_, network := rt.(Networker)
	_, ports := rt.(PortDialer)
	_, archive := rt.(Archiver)
	_, checkpoint := rt.(Checkpointer)
	_, watch := rt.(Watcher)
	_, pool := rt.(Pooler)
	for _, f := range []struct {
		name          string
		flag, methods bool
	}{
		{"Agent/AgentDialer", c.Agent, agent},
		{"Network/Networker", c.Network, network},
		{"Ports/PortDialer", c.Ports, ports},
		{"Archive/Archiver", c.Archive, archive},
		{"Checkpoint/Checkpointer", c.Checkpoint, checkpoint},
		{"Watch/Watcher", c.Watch, watch},
		{"Pool/Pooler", c.Pool, pool},
	} {
		capability, _, _ := strings.Cut(f.name, "/")
		if !f.flag && f.methods && MissingReason(rt, capability) != "" {
			continue // implemented, and the host says why it is off
		}
		if f.flag != f.methods {
			return fmt.Errorf("runtime %s: capability %s: declared %v, implemented %v", rt.Name(), f.name, f.flag, f.methods)
		}
	}
	return nil
}
