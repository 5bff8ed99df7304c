package sandbox_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// poolRig is a service over SQLite, an image store holding a shared
// "base", and the fake runtime that prepares sandboxes, with a pool of
// size 2 of "base".
type poolRig struct {
	t      *testing.T
	dir    string
	st     *sqlite.Store
	images *image.Store
	rt     *fakeruntime.Pooling
	cfg    sandbox.Config
	svc    *sandbox.Service
	base   *image.Image
}

func newPoolRig(t *testing.T, tweak func(*sandbox.Config)) *poolRig {
	t.Helper()
	return newPoolRigOn(t, fakeruntime.NewPooling(), tweak)
}

// newPoolRigOn is newPoolRig on the fake rt.
func newPoolRigOn(t *testing.T, rt *fakeruntime.Pooling, tweak func(*sandbox.Config)) *poolRig {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking a rootfs keeps its owners: needs root")
	}
	r := &poolRig{t: t, dir: t.TempDir(), rt: rt, cfg: sandbox.DefaultConfig()}
	r.cfg.Pools = sandbox.PoolConfig{DefaultSize: 2}
	if tweak != nil {
		tweak(&r.cfg)
	}
	images, err := image.Open(filepath.Join(r.dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Close() })
	r.images = images
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/os-release", Mode: 0o644, Size: 8, Typeflag: tar.TypeReg})
	tw.Write([]byte("ID=base\n"))
	tw.Close()
	if r.base, err = images.In("").ImportRootfsFrom(context.Background(), &buf, "base", image.Config{}); err != nil {
		t.Fatal(err)
	}
	r.open()
	return r
}

// open (re)starts the service and its pools, as a (re)started server.
func (r *poolRig) open() {
	t := r.t
	st, err := sqlite.Open(context.Background(), filepath.Join(r.dir, "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := sandbox.NewService(r.cfg, st, r.rt, sandbox.WithImages(r.images),
		sandbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	r.st, r.svc = st, svc
	svc.StartPools(context.Background())
	t.Cleanup(r.close)
}

func (r *poolRig) close() {
	if r.svc == nil {
		return
	}
	r.svc.Close()
	r.st.Close()
	r.svc = nil
}

// waitReady waits until the pool of "base" holds n ready members.
func (r *poolRig) waitReady(n int) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ps := r.svc.Pools(context.Background())
		if len(ps) == 1 && ps[0].Ready == n {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("pools %+v never had %d ready", ps, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *poolRig) prepared() []runtime.PoolSpec {
	r.t.Helper()
	ps, err := r.rt.Prepared(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return ps
}

// poolPins are the image pins of prepared sandboxes.
func (r *poolRig) poolPins() []string {
	var out []string
	for owner := range r.images.Pins() {
		if strings.HasPrefix(owner, sandbox.PoolIDPrefix) {
			out = append(out, owner)
		}
	}
	slices.Sort(out)
	return out
}

func (r *poolRig) create(req sandbox.CreateRequest) *sandbox.Sandbox {
	r.t.Helper()
	if req.OrganizationID == "" {
		req.OrganizationID = org
	}
	req.Wait = true
	sb, err := r.svc.Create(context.Background(), req)
	if err != nil {
		r.t.Fatal(err)
	}
	return sb
}

// createPath is the path the event settling sb's create names.
func (r *poolRig) createPath(sb *sandbox.Sandbox) string {
	r.t.Helper()
	evs, err := r.svc.Events(context.Background(), sb.OrganizationID, sb.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == sandbox.EventState && e.From == sandbox.StateCreating && e.To == sandbox.StateRunning {
			return strings.TrimPrefix(e.Message, "createPath: ")
		}
	}
	r.t.Fatalf("no creating -> running event in %+v", evs)
	return ""
}

func poolIDs(ps []runtime.PoolSpec) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestPoolServesCreate(t *testing.T) {
	r := newPoolRig(t, nil)
	r.waitReady(2)
	before := poolIDs(r.prepared())
	sb := r.create(sandbox.CreateRequest{Env: map[string]string{"A": "1"}})
	if got := r.createPath(sb); got != sandbox.CreatePathPool {
		t.Fatalf("createPath %q, want pool", got)
	}
	from, ok := r.rt.TakenFrom(sb.ID)
	if !ok || !slices.Contains(before, from.ID) || from.Image != r.base.Digest {
		t.Fatalf("sandbox taken from %+v (%v), prepared were %v on %s", from, ok, before, r.base.Digest)
	}
	if st := r.rt.State(sb.ID); st != runtime.StateRunning {
		t.Fatalf("taken sandbox is %s", st)
	}
	pins := r.images.Pins()
	if !slices.Contains(pins[sb.ID], r.base.Digest) {
		t.Fatalf("taken sandbox pins %v, want %s", pins[sb.ID], r.base.Digest)
	}
	if _, ok := pins[from.ID]; ok {
		t.Fatalf("the taken member %s keeps its pin", from.ID)
	}
	r.waitReady(2) // refilled
	if len(r.prepared()) != 2 {
		t.Fatalf("prepared %v after the refill", r.prepared())
	}
}

func TestPoolFalseBootsCold(t *testing.T) {
	r := newPoolRig(t, nil)
	r.waitReady(2)
	sb := r.create(sandbox.CreateRequest{NoPool: true})
	if got := r.createPath(sb); got != sandbox.CreatePathCold {
		t.Fatalf("createPath %q, want cold", got)
	}
	if _, ok := r.rt.TakenFrom(sb.ID); ok || !slices.Contains(r.rt.CallsSoFar(), "create "+sb.ID) {
		t.Fatalf("pool:false create was not booted: calls %v", r.rt.CallsSoFar())
	}
	if n := len(r.prepared()); n != 2 {
		t.Fatalf("pool:false took a member: %d left", n)
	}
}

func TestPoolOtherDiskBootsCold(t *testing.T) {
	r := newPoolRig(t, nil)
	r.waitReady(2)
	disk := r.cfg.DefaultResources.DiskMB / 2
	sb := r.create(sandbox.CreateRequest{DiskMB: &disk})
	if got := r.createPath(sb); got != sandbox.CreatePathCold {
		t.Fatalf("createPath %q of a create with its own disk size, want cold", got)
	}
}

func TestPoolTakeFailureFallsBackCold(t *testing.T) {
	r := newPoolRig(t, nil)
	r.waitReady(2)
	r.rt.FailNext("take", errors.New("take broke"))
	sb := r.create(sandbox.CreateRequest{})
	if sb.State != sandbox.StateRunning {
		t.Fatalf("state %s after a failed take", sb.State)
	}
	if got := r.createPath(sb); got != sandbox.CreatePathCold {
		t.Fatalf("createPath %q after a failed take, want cold", got)
	}
	if !slices.Contains(r.rt.CallsSoFar(), "create "+sb.ID) {
		t.Fatalf("no cold create after the failed take: %v", r.rt.CallsSoFar())
	}
	r.waitReady(2)
	for _, owner := range r.poolPins() {
		if !slices.Contains(poolIDs(r.prepared()), owner) {
			t.Fatalf("pin of %s left by the failed take", owner)
		}
	}
}

func TestPoolInvisibleAndFreeOfQuota(t *testing.T) {
	r := newPoolRig(t, func(c *sandbox.Config) {
		c.DefaultQuota = sandbox.Quota{Sandboxes: 1, CPU: -1, MemoryMB: -1, DiskMB: -1}
	})
	r.waitReady(2)
	all, err := r.st.ListAllSandboxes(context.Background())
	if err != nil || len(all) != 0 {
		t.Fatalf("records with a full pool: %v, %v", all, err)
	}
	sb := r.create(sandbox.CreateRequest{})
	list, n, err := r.svc.List(context.Background(), sandbox.ListFilter{OrganizationID: org})
	if err != nil || n != 1 || list[0].ID != sb.ID {
		t.Fatalf("list %v (%d), %v; want only %s", list, n, err, sb.ID)
	}
	if _, err := r.svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: org, Wait: true}); err == nil {
		t.Fatal("a second create passed a quota of one sandbox")
	}
}

func TestPoolDroppedOnImageRemoval(t *testing.T) {
	r := newPoolRig(t, nil)
	r.waitReady(2)
	if err := r.svc.Images().Remove(context.Background(), platform, "base"); err != nil {
		t.Fatal(err)
	}
	if ps := r.prepared(); len(ps) != 0 {
		t.Fatalf("prepared %v after the image's removal", ps)
	}
	if pins := r.poolPins(); len(pins) != 0 {
		t.Fatalf("pool pins %v after the image's removal", pins)
	}
}

func TestPoolDroppedOnClose(t *testing.T) {
	r := newPoolRig(t, nil)
	r.waitReady(2)
	r.close()
	if ps := r.prepared(); len(ps) != 0 {
		t.Fatalf("prepared %v after close", ps)
	}
	if pins := r.poolPins(); len(pins) != 0 {
		t.Fatalf("pool pins %v after close", pins)
	}
}

// A restart keeps what the driver still holds prepared and matches the
// configuration, and drops the rest with the pins of members gone.
func TestPoolRestartReconciles(t *testing.T) {
	r := newPoolRig(t, nil)
	r.close() // what a crashed run left, below
	ctx := context.Background()
	disk := r.cfg.DefaultResources.DiskMB
	for _, p := range []runtime.PoolSpec{
		{ID: "pool_keep", Image: r.base.Digest, DiskMB: disk},
		{ID: "pool_otherdisk", Image: r.base.Digest, DiskMB: disk + 1},
		{ID: "pool_otherimage", Image: "sha256:0000", DiskMB: disk},
	} {
		if _, err := r.images.In("").Pin(ctx, p.ID, "base"); err != nil {
			t.Fatal(err)
		}
		if err := r.rt.Prepare(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.images.In("").Pin(ctx, "pool_gone", "base"); err != nil {
		t.Fatal(err)
	}
	r.open()
	r.waitReady(2)
	got := poolIDs(r.prepared())
	if len(got) != 2 || !slices.Contains(got, "pool_keep") {
		t.Fatalf("prepared after the restart %v, want pool_keep and one new", got)
	}
	if pins := r.poolPins(); !slices.Equal(pins, got) {
		t.Fatalf("pool pins %v, want those of %v", pins, got)
	}
}

func TestPoolSizeZeroPreparesNothing(t *testing.T) {
	r := newPoolRig(t, func(c *sandbox.Config) { c.Pools.DefaultSize = 0 })
	if ps := r.svc.Pools(context.Background()); len(ps) != 0 {
		t.Fatalf("pools %+v with size 0", ps)
	}
	sb := r.create(sandbox.CreateRequest{})
	if got := r.createPath(sb); got != sandbox.CreatePathCold {
		t.Fatalf("createPath %q without pools", got)
	}
	r.close()
	if slices.ContainsFunc(r.rt.CallsSoFar(), func(c string) bool { return strings.HasPrefix(c, "prepare ") }) {
		t.Fatalf("prepared with pools off: %v", r.rt.CallsSoFar())
	}
}

// An image change sweeps the pins of owners without a record: the
// prepared sandboxes, which have none, keep theirs.
func TestPoolPinsSurviveImageSweep(t *testing.T) {
	r := newPoolRig(t, nil)
	r.waitReady(2)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/os-release", Mode: 0o644, Size: 9, Typeflag: tar.TypeReg})
	tw.Write([]byte("ID=other\n"))
	tw.Close()
	if _, err := r.svc.Images().ImportRootfs(context.Background(), platform, &buf, "other"); err != nil {
		t.Fatal(err)
	}
	pins := r.images.Pins()
	for _, id := range poolIDs(r.prepared()) {
		if !slices.Contains(pins[id], r.base.Digest) {
			t.Errorf("prepared sandbox %s lost its pin to %s in the sweep: %v", id, r.base.Digest, pins[id])
		}
	}
}

// An organisation that turned pools off gets cold creates; another one
// still takes from the pool.
func TestPoolOrgOptOut(t *testing.T) {
	r := newPoolRig(t, nil)
	off := false
	if err := r.svc.SetOrgSettings(context.Background(), &sandbox.OrgSettings{OrganizationID: "org_nopool", UsePools: &off}); err != nil {
		t.Fatal(err)
	}
	r.waitReady(2)
	sb := r.create(sandbox.CreateRequest{OrganizationID: "org_nopool"})
	if got := r.createPath(sb); got != sandbox.CreatePathCold {
		t.Fatalf("createPath %q for an organisation with pools off, want cold", got)
	}
	if n := len(r.prepared()); n != 2 {
		t.Fatalf("the opted-out create took a member: %d left", n)
	}
	if got := r.createPath(r.create(sandbox.CreateRequest{})); got != sandbox.CreatePathPool {
		t.Fatalf("createPath %q for another organisation, want pool", got)
	}
}
