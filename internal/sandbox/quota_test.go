package sandbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// quotaRig is a service over SQLite and the fake runtime on a pretend
// host of 2 cores, 4 GiB and 50 GB free.
type quotaRig struct {
	t   *testing.T
	st  *sqlite.Store
	rt  *fakeruntime.Fake
	svc *sandbox.Service
}

var smallHost = sandbox.Host{CPU: 2, MemoryMB: 4096, FreeDiskMB: func() (int64, error) { return 50000, nil }}

func newQuotaRig(t *testing.T, host sandbox.Host, q sandbox.Quota) *quotaRig {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := sandbox.DefaultConfig()
	cfg.DefaultResources = sandbox.Resources{CPU: 1, MemoryMB: 512, DiskMB: 1024, Pids: 256}
	cfg.DefaultQuota = q
	rt := fakeruntime.New()
	svc, err := sandbox.NewService(cfg, st, rt, sandbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), sandbox.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &quotaRig{t: t, st: st, rt: rt, svc: svc}
}

func (r *quotaRig) create(orgID string, cpu float64, memMB, diskMB int64) (*sandbox.Sandbox, error) {
	return r.svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: orgID, CPU: &cpu, MemoryMB: &memMB, DiskMB: &diskMB, Wait: true})
}

func (r *quotaRig) count(orgID string) int {
	r.t.Helper()
	u, err := r.st.OrgUsage(context.Background(), orgID)
	if err != nil {
		r.t.Fatal(err)
	}
	return int(u.Sandboxes)
}

// wantLimit checks that err is a 403-class LimitError on field whose
// message says want.
func wantLimit(t *testing.T, err error, field, want string) {
	t.Helper()
	var le *sandbox.LimitError
	if !errors.As(err, &le) || !errors.Is(err, errdefs.ErrForbidden) || le.Field != field || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want a limit on %s saying %q", err, field, want)
	}
}

// TestCreateCappedByHost: the red team's 64 cpus, 256 GiB and 1 TiB disk
// on a small host are each refused naming the limit, before anything is
// stored or booted; what the host can give is accepted.
func TestCreateCappedByHost(t *testing.T) {
	r := newQuotaRig(t, smallHost, sandbox.NoQuota)
	cases := []struct {
		cpu         float64
		mem, disk   int64
		field, want string
	}{
		{64, 512, 1024, "resources.cpu", "64 is more than this host's 2 cpus"},
		{1, 256 * 1024, 1024, "resources.memoryMB", "262144 is more than this host's 4096 MB of memory"},
		{1, 512, 1024 * 1024, "resources.diskMB", "1048576 is more than the 50000 MB free"},
	}
	for _, c := range cases {
		_, err := r.create("org_a", c.cpu, c.mem, c.disk)
		wantLimit(t, err, c.field, c.want)
	}
	if n := r.count("org_a"); n != 0 || len(r.rt.Calls) != 0 {
		t.Fatalf("%d refused sandboxes stored, runtime calls %v", n, r.rt.Calls)
	}
	if _, err := r.create("org_a", 2, 4096, 50000); err != nil {
		t.Fatalf("what the host can give refused: %v", err)
	}

	// A configured bound replaces the free space: disks are sparse.
	h := smallHost
	h.MaxDiskMB = 100000
	r = newQuotaRig(t, h, sandbox.NoQuota)
	if _, err := r.create("org_a", 1, 512, 80000); err != nil {
		t.Fatalf("disk under the configured bound refused: %v", err)
	}
	_, err := r.create("org_a", 1, 512, 100001)
	wantLimit(t, err, "resources.diskMB", "more than the 100000 MB this server gives one sandbox")
}

// TestTinyCPUIsBadInput: below the kernel's smallest CPU share is a 400
// naming the field, not a runtime failure.
func TestTinyCPUIsBadInput(t *testing.T) {
	r := newQuotaRig(t, smallHost, sandbox.NoQuota)
	for _, cpu := range []float64{0.001, 0.0099, 0} {
		_, err := r.create("org_a", cpu, 512, 1024)
		var fe *errdefs.FieldError
		if !errors.As(err, &fe) || fe.Field != "resources.cpu" || !strings.Contains(fe.Reason, "0.01") {
			t.Fatalf("cpu %v: err = %v, want a 400 on resources.cpu naming 0.01", cpu, err)
		}
	}
	if len(r.rt.Calls) != 0 {
		t.Fatalf("runtime called: %v", r.rt.Calls)
	}
	if _, err := r.create("org_a", 0.01, 512, 1024); err != nil {
		t.Fatalf("cpu 0.01 refused: %v", err)
	}
}

// TestQuotaPerOrganisation: the server's default quota and one the
// platform admin sets hold an organisation's sandboxes together, each
// limit named; deleting a sandbox frees its share; other organisations
// are not touched.
func TestQuotaPerOrganisation(t *testing.T) {
	ctx := context.Background()
	r := newQuotaRig(t, smallHost, sandbox.Quota{Sandboxes: 3, CPU: -1, MemoryMB: -1, DiskMB: -1})
	var made []*sandbox.Sandbox
	for i := 0; i < 3; i++ {
		sb, err := r.create("org_a", 0.5, 512, 1024)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, sb)
	}
	_, err := r.create("org_a", 0.5, 512, 1024)
	wantLimit(t, err, "quota.sandboxes", "quota is 3 sandboxes and it has 3")
	if _, err := r.create("org_b", 0.5, 512, 1024); err != nil {
		t.Fatalf("another organisation refused: %v", err)
	}

	platform := auth.Principal{OrganizationID: auth.DefaultOrganizationID, Admin: true}
	orgAdmin := auth.Principal{OrganizationID: "org_a", Admin: true}
	cpu, mem := 2.0, int64(2048)
	if err := r.svc.SetQuota(ctx, orgAdmin, &sandbox.OrgQuota{OrganizationID: "org_a", CPU: &cpu}); !errors.Is(err, errdefs.ErrForbidden) {
		t.Fatalf("an organisation's own admin set its quota: %v", err)
	}
	ten := int64(10)
	if err := r.svc.SetQuota(ctx, platform, &sandbox.OrgQuota{OrganizationID: "org_a", Sandboxes: &ten, CPU: &cpu, MemoryMB: &mem}); err != nil {
		t.Fatal(err)
	}
	_, err = r.create("org_a", 1, 512, 1024)
	wantLimit(t, err, "quota.cpu", "quota is 2 cpu; its sandboxes hold 1.5 cpu and this one asks for 1 cpu more")
	_, err = r.create("org_a", 0.5, 1024, 1024)
	wantLimit(t, err, "quota.memoryMB", "quota is 2048 MB; its sandboxes hold 1536 MB and this one asks for 1024 MB more")
	if _, err := r.create("org_a", 0.5, 512, 1024); err != nil {
		t.Fatalf("a create within the quota refused: %v", err)
	}

	st, err := r.svc.Quota(ctx, orgAdmin, "org_a")
	if err != nil {
		t.Fatal(err)
	}
	if st.Effective != (sandbox.Quota{Sandboxes: 10, CPU: 2, MemoryMB: 2048, DiskMB: -1}) || st.Usage.Sandboxes != 4 || st.Usage.CPU != 2 || *st.Set.Sandboxes != 10 || st.Set.DiskMB != nil {
		t.Fatalf("quota status %+v (set %+v)", st, st.Set)
	}
	if _, err := r.svc.Quota(ctx, auth.Principal{OrganizationID: "org_b", Admin: true}, "org_a"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Fatalf("another organisation read the quota: %v", err)
	}
	if _, err := r.svc.Quota(ctx, platform, "org_a"); err != nil {
		t.Fatalf("the platform admin cannot read a quota: %v", err)
	}

	// Deleted sandboxes do not count.
	if _, err := r.svc.Act(ctx, "org_a", made[0].ID, sandbox.ActionDelete, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.create("org_a", 0.5, 512, 1024); err != nil {
		t.Fatalf("a create after a delete freed the quota refused: %v", err)
	}

	bad := int64(-2)
	if err := r.svc.SetQuota(ctx, platform, &sandbox.OrgQuota{OrganizationID: "org_a", MemoryMB: &bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("quota of -2 accepted: %v", err)
	}
}

// TestConcurrentCreatesDoNotOvershoot: twenty creates at once against a
// quota of five: exactly five get through.
func TestConcurrentCreatesDoNotOvershoot(t *testing.T) {
	r := newQuotaRig(t, smallHost, sandbox.Quota{Sandboxes: -1, CPU: 5, MemoryMB: -1, DiskMB: -1})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, over int
	)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.create("org_a", 1, 256, 512)
			mu.Lock()
			defer mu.Unlock()
			var le *sandbox.LimitError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &le) && le.Field == "quota.cpu":
				over++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 5 || over != 15 || r.count("org_a") != 5 {
		t.Fatalf("%d created, %d refused, %d stored; want 5, 15, 5", ok, over, r.count("org_a"))
	}
}
