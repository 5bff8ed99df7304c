package compat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/compat/compattest"
	"github.com/hutchdev/hutch/internal/compat/daytona"
	"github.com/hutchdev/hutch/internal/compat/e2b"
	"github.com/hutchdev/hutch/internal/compat/hopx"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestVendorPauseFollowsPauseMemory: a pause through HopX, E2B or
// Daytona names no memory mode, so it releases the memory (the sandbox
// goes to disk) when the default says so, and keeps it resident when
// the default is keep, with the tiered pause's timer set.
func TestVendorPauseFollowsPauseMemory(t *testing.T) {
	faces := []struct {
		name    string
		mount   func(*gateway.Router, compat.Deps)
		path    string // the pause of sandbox %s
		headers func(key string) map[string]string
		status  int
	}{
		{"hopx", hopx.Mount, hopx.Prefix + "/v1/sandboxes/{id}/pause", bearer, 200},
		{"e2b", e2b.Mount, e2b.Prefix + "/sandboxes/{id}/pause", func(k string) map[string]string { return map[string]string{"X-API-KEY": k} }, 204},
		{"daytona", daytona.Mount, daytona.Prefix + "/sandbox/{id}/pause", bearer, 200},
	}
	for _, f := range faces {
		for _, mem := range []sandbox.PauseMemory{sandbox.PauseRelease, sandbox.PauseKeep} {
			t.Run(f.name+"-"+string(mem), func(t *testing.T) {
				e := compattest.New(t, f.mount, compattest.WithCheckpoints())
				ctx := context.Background()
				releaseAfter := int64(600)
				if err := e.Svc.SetOrgSettings(ctx, &sandbox.OrgSettings{OrganizationID: e.OrgID, PauseMemory: &mem,
					PauseReleaseAfterSeconds: &releaseAfter}); err != nil {
					t.Fatal(err)
				}
				sb, err := e.Svc.Create(ctx, sandbox.CreateRequest{OrganizationID: e.OrgID, Wait: true})
				if err != nil {
					t.Fatal(err)
				}
				path := strings.ReplaceAll(f.path, "{id}", sb.ID)
				if r := e.Do("POST", path, f.headers(e.Key), nil); r.Status != f.status {
					t.Fatalf("pause: %d %s", r.Status, r.Body)
				}
				var got *sandbox.Sandbox
				poll.Until(t, "the pause to settle", func() bool {
					got, err = e.Svc.Get(ctx, e.OrgID, sb.ID)
					return err == nil && got.State == sandbox.StatePaused
				})
				switch {
				case got.Pause == nil:
					t.Fatalf("paused with no pause info: %+v", got)
				case mem == sandbox.PauseRelease && got.Pause.Memory != sandbox.MemoryOnDisk:
					t.Fatalf("default release, pause left memory %s", got.Pause.Memory)
				case mem == sandbox.PauseKeep && (got.Pause.Memory != sandbox.MemoryResident || got.Pause.ReleaseAt == nil):
					t.Fatalf("default keep: memory %s, release at %v", got.Pause.Memory, got.Pause.ReleaseAt)
				}
			})
		}
	}
}

func bearer(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }
