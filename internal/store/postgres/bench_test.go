package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// The benchmarks are the SQLite store's (store/sqlite/bench_test.go), so
// that the two backends' numbers compare; the server is the test
// binary's, over its unix socket, with fsync off.

// benchSandbox is a realistic record: a few labels, env and CIDRs.
func benchSandbox(org, name string) *sandbox.Sandbox {
	now := time.Now().UTC()
	timeout := int64(3600)
	return &sandbox.Sandbox{
		ID: ids.New("sbx_"), Name: name, OrganizationID: org,
		Image: "docker.io/library/python:3.12", Entrypoint: []string{"sleep", "infinity"},
		Env:       map[string]string{"A": "1", "B": "2"},
		Metadata:  map[string]string{"team": "ml", "env": "dev", "owner": name},
		Resources: sandbox.Resources{CPU: 1, MemoryMB: 512, DiskMB: 1024, Pids: 256},
		Network:   sandbox.Network{Internet: true, AllowCIDRs: []string{"10.0.0.0/8"}},
		State:     sandbox.StateRunning, DesiredState: sandbox.StateRunning,
		TimeoutSeconds: &timeout, CreatedAt: now, UpdatedAt: now, LastActivityAt: now, Version: 1,
	}
}

var benchEvent = sandbox.Event{Type: "state", To: sandbox.StateCreating, Cause: "user"}

func BenchmarkCreateSandbox(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := s.CreateSandbox(ctx, benchSandbox("org_bench", fmt.Sprint("sb-", i)), benchEvent); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkUpdateSandbox(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	sb := benchSandbox("org_bench", "web")
	if err := s.CreateSandbox(ctx, sb, benchEvent); err != nil {
		b.Fatal(err)
	}
	ev := sandbox.Event{Type: "state", From: sandbox.StateRunning, To: sandbox.StatePaused}
	for b.Loop() {
		sb.UpdatedAt = time.Now()
		if err := s.UpdateSandbox(ctx, sb, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateSandboxParallel has every goroutine update its own
// sandbox, the shape of many lifecycles at once; unlike SQLite's single
// writer, PostgreSQL runs them on several connections.
func BenchmarkUpdateSandboxParallel(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		sb := benchSandbox("org_bench", fmt.Sprint("sb-", n.Add(1)))
		if err := s.CreateSandbox(ctx, sb, benchEvent); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			sb.UpdatedAt = time.Now()
			if err := s.UpdateSandbox(ctx, sb, sandbox.Event{Type: "state", To: sandbox.StateRunning}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGetSandbox(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	seedBench(b, s, 1000)
	for b.Loop() {
		if _, err := s.GetSandbox(ctx, "org_bench", "sb-500"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListSandboxes pages through 1000 sandboxes with a metadata and
// a name filter, the dashboard's common query.
func BenchmarkListSandboxes(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	seedBench(b, s, 1000)
	f := sandbox.ListFilter{OrganizationID: "org_bench", Metadata: map[string]string{"team": "ml"},
		NamePrefix: "sb-1", Page: 2, PageSize: 20}
	for b.Loop() {
		items, total, err := s.ListSandboxes(ctx, f)
		if err != nil || len(items) != 20 || total != 111 {
			b.Fatalf("ListSandboxes = %d items, total %d, %v", len(items), total, err)
		}
	}
}

func seedBench(b *testing.B, s *Store, n int) {
	b.Helper()
	for i := range n {
		if err := s.CreateSandbox(context.Background(), benchSandbox("org_bench", fmt.Sprint("sb-", i)), benchEvent); err != nil {
			b.Fatal(err)
		}
	}
}
