// Package storetest is the one behaviour suite every store.Store backend
// passes, so that SQLite and PostgreSQL cannot drift apart in the details
// the lifecycle relies on (conflicts, name reuse, filters, paging).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// Run runs the suite. open must return a new, empty store for each call and
// release it with t.Cleanup; each subtest opens its own, so that global
// operations (ListAllSandboxes, PurgeDeleted) see only their own data.
//
// Backends must keep times to at least the microsecond; the suite's times
// are truncated to microseconds so that PostgreSQL qualifies.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := [][]test{sandboxTests, stateTests, updateTests, listTests, authTests, automationTests, webhookTests, quotaTests}
	for _, g := range groups {
		for _, tc := range g {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
		}
	}
}

// test is one case of the suite.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// now is the suite's reference time, at the precision every backend keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newOrg() string { return ids.New("org_") }

// newSandbox returns a running sandbox with every field set, so that a
// round trip checks every column.
func newSandbox(org, name string) *sandbox.Sandbox {
	at := now()
	timeout := int64(3600)
	expires := at.Add(time.Hour)
	started := at.Add(time.Second)
	return &sandbox.Sandbox{
		ID:             ids.New("sbx_"),
		Name:           name,
		OrganizationID: org,
		Image:          "docker.io/library/python:3.12",
		Template:       "python",
		Runtime:        "gvisor",
		Entrypoint:     []string{"/bin/sh", "-c", "sleep infinity"},
		Env:            map[string]string{"A": "1", "PATH": "/usr/bin"},
		Metadata:       map[string]string{"team": "ml", "env": "dev"},
		Resources:      sandbox.Resources{CPU: 1.5, MemoryMB: 512, DiskMB: 2048, Pids: 128},
		Network: sandbox.Network{Internet: true, AllowCIDRs: []string{"10.0.0.0/8", "192.168.1.0/24"},
			DenyCIDRs: []string{"10.1.0.0/16"}, PublicPorts: []int{8080}},
		AutoResume:      true,
		State:           sandbox.StateRunning,
		DesiredState:    sandbox.StateRunning,
		StateReason:     "started by test",
		TimeoutSeconds:  &timeout,
		ExpiresAt:       &expires,
		AutoStopMinutes: 15, AutoPauseMinutes: 10, AutoArchiveMinutes: 60, AutoDeleteMinutes: -1,
		CreatedAt:      at,
		UpdatedAt:      at,
		StartedAt:      &started,
		LastActivityAt: at,
		Version:        1,
	}
}

// createEvent is the event the suite writes with every create.
func createEvent() sandbox.Event {
	return sandbox.Event{Type: "state", From: "", To: sandbox.StateCreating, Cause: "user", Message: "created"}
}

func mustCreate(t *testing.T, s store.Store, sb *sandbox.Sandbox) *sandbox.Sandbox {
	t.Helper()
	if err := s.CreateSandbox(context.Background(), sb, createEvent()); err != nil {
		t.Fatalf("CreateSandbox(%s %q): %v", sb.ID, sb.Name, err)
	}
	return sb
}

func mustGet(t *testing.T, s store.Store, org, idOrName string) *sandbox.Sandbox {
	t.Helper()
	sb, err := s.GetSandbox(context.Background(), org, idOrName)
	if err != nil {
		t.Fatalf("GetSandbox(%q): %v", idOrName, err)
	}
	return sb
}

func mustUpdate(t *testing.T, s store.Store, sb *sandbox.Sandbox, ev sandbox.Event) {
	t.Helper()
	if err := s.UpdateSandbox(context.Background(), sb, ev); err != nil {
		t.Fatalf("UpdateSandbox(%s v%d): %v", sb.ID, sb.Version, err)
	}
}

// setState moves sb to st through UpdateSandbox, with a state event.
func setState(t *testing.T, s store.Store, sb *sandbox.Sandbox, st sandbox.State) {
	t.Helper()
	ev := sandbox.Event{Type: "state", From: sb.State, To: st, Cause: "test"}
	sb.State, sb.DesiredState = st, st
	mustUpdate(t, s, sb, ev)
}

func wantErr(t *testing.T, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("%s: got error %v, want %v", what, err, class)
	}
}

// normalize makes sandboxes from different backends comparable: times in
// UTC, and empty slices and maps the same as nil.
func normalize(sb *sandbox.Sandbox) sandbox.Sandbox {
	c := *sb
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		u := p.UTC()
		return &u
	}
	c.CreatedAt, c.UpdatedAt, c.LastActivityAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.LastActivityAt.UTC()
	c.ExpiresAt, c.StartedAt = utc(c.ExpiresAt), utc(c.StartedAt)
	if len(c.Entrypoint) == 0 {
		c.Entrypoint = nil
	}
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	if len(c.Network.AllowCIDRs) == 0 {
		c.Network.AllowCIDRs = nil
	}
	if len(c.Network.DenyCIDRs) == 0 {
		c.Network.DenyCIDRs = nil
	}
	if len(c.Network.PublicPorts) == 0 {
		c.Network.PublicPorts = nil
	}
	return c
}

func wantSandbox(t *testing.T, what string, got, want *sandbox.Sandbox) {
	t.Helper()
	g, w := normalize(got), normalize(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, show(g), show(w))
	}
}

// show prints a sandbox with its pointers followed, for failure messages.
func show(sb sandbox.Sandbox) string {
	deref := func(p any) string {
		v := reflect.ValueOf(p)
		if v.IsNil() {
			return "nil"
		}
		return fmt.Sprint(v.Elem().Interface())
	}
	return fmt.Sprintf("%+v timeout=%s expires=%s started=%s",
		sb, deref(sb.TimeoutSeconds), deref(sb.ExpiresAt), deref(sb.StartedAt))
}

// names returns the names of sbs in order, for comparing list results.
func names(sbs []*sandbox.Sandbox) []string {
	out := make([]string, 0, len(sbs))
	for _, sb := range sbs {
		out = append(out, sb.Name)
	}
	return out
}

func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
