package storetest

import (
	"context"
	"math"
	"testing"

	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

var quotaTests = []test{
	{"OrgQuota", testOrgQuota},
	{"OrgUsage", testOrgUsage},
}

func testOrgQuota(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	got, err := s.GetOrgQuota(ctx, org)
	if err != nil || got.OrganizationID != org || got.Sandboxes != nil || got.CPU != nil || got.MemoryMB != nil || got.DiskMB != nil ||
		got.ImageMaxCompressedMB != nil || got.ImageMaxUnpackedMB != nil {
		t.Fatalf("unset quota: %+v %v", got, err)
	}
	n, cpu, mem, unlimited, imgC, imgU := int64(3), 2.5, int64(4096), int64(-1), int64(512), int64(4)
	set := &sandbox.OrgQuota{OrganizationID: org, Sandboxes: &n, CPU: &cpu, MemoryMB: &mem, DiskMB: &unlimited,
		ImageMaxCompressedMB: &imgC, ImageMaxUnpackedMB: &imgU, UpdatedAt: now()}
	if err := s.PutOrgQuota(ctx, set); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetOrgQuota(ctx, org)
	if err != nil || *got.Sandboxes != 3 || *got.CPU != 2.5 || *got.MemoryMB != 4096 || *got.DiskMB != -1 ||
		got.ImageMaxCompressedMB == nil || *got.ImageMaxCompressedMB != 512 || got.ImageMaxUnpackedMB == nil || *got.ImageMaxUnpackedMB != 4 ||
		!got.UpdatedAt.Equal(set.UpdatedAt) {
		t.Fatalf("quota read back: %+v %v", got, err)
	}
	set.CPU, set.DiskMB, set.ImageMaxCompressedMB = nil, nil, nil
	if err := s.PutOrgQuota(ctx, set); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetOrgQuota(ctx, org); got.CPU != nil || got.DiskMB != nil || *got.Sandboxes != 3 ||
		got.ImageMaxCompressedMB != nil || got.ImageMaxUnpackedMB == nil || *got.ImageMaxUnpackedMB != 4 {
		t.Fatalf("cleared fields read back: %+v", got)
	}
	if other, _ := s.GetOrgQuota(ctx, newOrg()); other.Sandboxes != nil {
		t.Fatalf("another organisation sees the quota: %+v", other)
	}
}

// testOrgUsage: every state but deleted counts, other organisations do not.
func testOrgUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	if u, err := s.OrgUsage(ctx, org); err != nil || u != (sandbox.Usage{}) {
		t.Fatalf("usage of an empty organisation: %+v %v", u, err)
	}
	var want sandbox.Usage
	for i, st := range sandbox.States {
		sb := inState(org, "u"+string(st), st)
		sb.Resources = sandbox.Resources{CPU: 0.25 * float64(i+1), MemoryMB: int64(100 * (i + 1)), DiskMB: int64(1000 * (i + 1)), Pids: 64}
		mustCreate(t, s, sb)
		if st == sandbox.StateDeleted {
			continue
		}
		want.Sandboxes++
		want.CPU += sb.Resources.CPU
		want.MemoryMB += sb.Resources.MemoryMB
		want.DiskMB += sb.Resources.DiskMB
	}
	mustCreate(t, s, newSandbox(newOrg(), "elsewhere"))
	got, err := s.OrgUsage(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sandboxes != want.Sandboxes || math.Abs(got.CPU-want.CPU) > 1e-9 || got.MemoryMB != want.MemoryMB || got.DiskMB != want.DiskMB {
		t.Fatalf("usage = %+v, want %+v", got, want)
	}
}
