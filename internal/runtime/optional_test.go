package runtime_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// bare is a driver with no optional feature; the types below add one
// interface each, declared or not.
type bare struct{ caps runtime.Capabilities }

func (b bare) Name() string                                          { return "bare" }
func (b bare) Capabilities() runtime.Capabilities                    { return b.caps }
func (bare) Create(context.Context, runtime.Spec) error              { return nil }
func (bare) Start(context.Context, runtime.Spec) error               { return nil }
func (bare) Pause(context.Context, string) error                     { return nil }
func (bare) Resume(context.Context, string) error                    { return nil }
func (bare) Stop(context.Context, string, time.Duration) error       { return nil }
func (bare) Delete(context.Context, string) error                    { return nil }
func (bare) Recover(context.Context, string) (runtime.Status, error) { return runtime.Status{}, nil }
func (bare) Stats(context.Context, string) (runtime.Stats, error)    { return runtime.Stats{}, nil }

type agent struct{ bare }

func (agent) DialAgent(context.Context, string) (net.Conn, error) { return nil, nil }

type networker struct{ bare }

type portDialer struct{ bare }

func (portDialer) DialPort(context.Context, string, int) (net.Conn, error) { return nil, nil }

func (networker) SetNetwork(context.Context, string, runtime.NetworkPolicy) error { return nil }

type archiver struct{ bare }

func (archiver) Export(context.Context, string, io.Writer) error { return nil }
func (archiver) Discard(context.Context, string) error           { return nil }
func (archiver) Import(context.Context, string, io.Reader) error { return nil }

type checkpointer struct{ bare }

func (checkpointer) Checkpoint(context.Context, string) (int64, error) { return 0, nil }
func (checkpointer) Restore(context.Context, string) error             { return nil }

type watcher struct{ bare }

func (watcher) Watch(context.Context) <-chan runtime.Exit { return nil }

// TestCheckAndAs walks every optional interface with its flag set and
// unset, on a driver that has the interface and one that has not: Check
// accepts exactly the pairs that agree, and the As* helper answers only
// when flag and interface are both there.
func TestCheckAndAs(t *testing.T) {
	features := []struct {
		name string
		set  func(*runtime.Capabilities)
		with func(runtime.Capabilities) runtime.Runtime
		as   func(runtime.Runtime) bool
	}{
		{"Agent/AgentDialer", func(c *runtime.Capabilities) { c.Agent = true },
			func(c runtime.Capabilities) runtime.Runtime { return agent{bare{c}} },
			func(rt runtime.Runtime) bool { _, ok := runtime.AsAgentDialer(rt); return ok }},
		{"Network/Networker", func(c *runtime.Capabilities) { c.Network = true },
			func(c runtime.Capabilities) runtime.Runtime { return networker{bare{c}} },
			func(rt runtime.Runtime) bool { _, ok := runtime.AsNetworker(rt); return ok }},
		{"Ports/PortDialer", func(c *runtime.Capabilities) { c.Ports = true },
			func(c runtime.Capabilities) runtime.Runtime { return portDialer{bare{c}} },
			func(rt runtime.Runtime) bool { _, ok := runtime.AsPortDialer(rt); return ok }},
		{"Archive/Archiver", func(c *runtime.Capabilities) { c.Archive = true },
			func(c runtime.Capabilities) runtime.Runtime { return archiver{bare{c}} },
			func(rt runtime.Runtime) bool { _, ok := runtime.AsArchiver(rt); return ok }},
		{"Checkpoint/Checkpointer", func(c *runtime.Capabilities) { c.Checkpoint = true },
			func(c runtime.Capabilities) runtime.Runtime { return checkpointer{bare{c}} },
			func(rt runtime.Runtime) bool { _, ok := runtime.AsCheckpointer(rt); return ok }},
		{"Watch/Watcher", func(c *runtime.Capabilities) { c.Watch = true },
			func(c runtime.Capabilities) runtime.Runtime { return watcher{bare{c}} },
			func(rt runtime.Runtime) bool { _, ok := runtime.AsWatcher(rt); return ok }},
	}
	for _, f := range features {
		t.Run(f.name, func(t *testing.T) {
			var declared runtime.Capabilities
			f.set(&declared)
			for _, tc := range []struct {
				name        string
				rt          runtime.Runtime
				check, asOK bool
			}{
				{"declared and implemented", f.with(declared), true, true},
				{"declared, not implemented", bare{declared}, false, false},
				{"implemented, not declared", f.with(runtime.Capabilities{}), false, false},
				{"neither", bare{}, true, false},
			} {
				err := runtime.Check(tc.rt)
				if (err == nil) != tc.check {
					t.Errorf("%s: Check = %v, want passing %v", tc.name, err, tc.check)
				}
				if err != nil && !strings.Contains(err.Error(), f.name) {
					t.Errorf("%s: Check does not name the capability: %v", tc.name, err)
				}
				if got := f.as(tc.rt); got != tc.asOK {
					t.Errorf("%s: As = %v, want %v", tc.name, got, tc.asOK)
				}
			}
		})
	}
	if _, ok := runtime.AsAgentDialer(nil); ok {
		t.Error("AsAgentDialer(nil) answered")
	}
}

// hostLimited implements Checkpointer on a host that lacks what it needs.
type hostLimited struct {
	checkpointer
	why string
}

func (h hostLimited) Missing(capability string) string {
	if capability == "Checkpoint" {
		return h.why
	}
	return ""
}

// TestCheckHostLimited: an interface implemented but not declared passes
// Check only when the driver says what the host lacks, and AsCheckpointer
// still refuses it.
func TestCheckHostLimited(t *testing.T) {
	off := hostLimited{why: "CRIU is not installed"}
	if err := runtime.Check(off); err != nil {
		t.Fatalf("Check of a host-limited checkpointer: %v", err)
	}
	if _, ok := runtime.AsCheckpointer(off); ok {
		t.Fatal("AsCheckpointer answered for an undeclared capability")
	}
	if got := runtime.MissingReason(off, "Checkpoint"); got != off.why {
		t.Fatalf("MissingReason = %q", got)
	}
	if err := runtime.Check(hostLimited{}); err == nil || !strings.Contains(err.Error(), "Checkpoint") {
		t.Fatalf("Check of an undeclared checkpointer without a reason = %v", err)
	}
}
