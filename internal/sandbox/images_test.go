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
	"sync"
	"testing"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// layerRecorder is the fake runtime resolving each create's image as the
// oci driver does (the image store's Resolve of the spec's reference) and
// keeping the layer dirs it got, which a real sandbox would mount.
type layerRecorder struct {
	*fakeruntime.Fake
	images *image.Store
	mu     sync.Mutex
	layers map[string][]string
}

func (r *layerRecorder) Create(ctx context.Context, spec runtime.Spec) error {
	img, err := r.images.Resolve(ctx, spec.Image)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.layers[spec.ID] = img.Layers
	r.mu.Unlock()
	return r.Fake.Create(ctx, spec)
}

func (r *layerRecorder) layerOf(t *testing.T, id string) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.layers[id]) != 1 {
		t.Fatalf("sandbox %s booted on layers %v", id, r.layers[id])
	}
	return r.layers[id][0]
}

type imageRig struct {
	t      *testing.T
	st     *sqlite.Store
	images *image.Store
	rt     *layerRecorder
	svc    *sandbox.Service
}

// Principals: the platform admin, and an admin and a member of two other
// organisations.
var (
	platform = auth.Principal{OrganizationID: auth.DefaultOrganizationID, Admin: true}
	adminA   = auth.Principal{OrganizationID: "org_a", Admin: true}
	adminB   = auth.Principal{OrganizationID: "org_b", Admin: true}
	memberB  = auth.Principal{OrganizationID: "org_b"}
)

func newImageRig(t *testing.T) *imageRig {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking a rootfs keeps its owners: needs root")
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	images, err := image.Open(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Close() })
	rt := &layerRecorder{Fake: fakeruntime.New(), images: images, layers: map[string][]string{}}
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt,
		sandbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), sandbox.WithImages(images))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &imageRig{t: t, st: st, images: images, rt: rt, svc: svc}
}

// importBase imports a rootfs whose /etc/os-release names id as base, as p.
func (r *imageRig) importBase(p auth.Principal, id string) (*image.Image, error) {
	r.t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := "ID=" + id + "\n"
	tw.WriteHeader(&tar.Header{Name: "etc/os-release", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	return r.svc.Images().ImportRootfs(context.Background(), p, &buf, "base")
}

func (r *imageRig) mustImport(p auth.Principal, id string) *image.Image {
	r.t.Helper()
	img, err := r.importBase(p, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return img
}

func (r *imageRig) create(org, img string) *sandbox.Sandbox {
	r.t.Helper()
	sb, err := r.svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: org, Image: img, Wait: true})
	if err != nil {
		r.t.Fatalf("create on %s for %s: %v", img, org, err)
	}
	return sb
}

func (r *imageRig) remove(id string) {
	r.t.Helper()
	sb, err := r.svc.GetByID(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.Act(context.Background(), sb.OrganizationID, id, sandbox.ActionDelete, sandbox.ActOptions{Wait: true}); err != nil {
		r.t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestImagesOrganisationImportDoesNotReachOthers: org B's admin importing
// its own "base" changes what org B's sandboxes boot, not org A's; org A
// cannot name B's image even by digest.
func TestImagesOrganisationImportDoesNotReachOthers(t *testing.T) {
	r := newImageRig(t)
	shared := r.mustImport(platform, "shared")
	own := r.mustImport(adminB, "org-b")
	if own.Namespace != "org_b" || shared.Namespace != "" {
		t.Fatalf("namespaces: B's %q, platform's %q", own.Namespace, shared.Namespace)
	}
	a := r.create("org_a", "base")
	b := r.create("org_b", "base")
	if got := r.rt.layerOf(t, a.ID); got != shared.Layers[0] {
		t.Errorf("org A's sandbox booted on %s, want the shared base %s", got, shared.Layers[0])
	}
	if got := r.rt.layerOf(t, b.ID); got != own.Layers[0] {
		t.Errorf("org B's sandbox booted on %s, want B's own base %s", got, own.Layers[0])
	}
	sb, err := r.svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: "org_a", Image: own.Digest, Wait: true})
	if err == nil || sb == nil || sb.State != sandbox.StateError || !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("org A created on B's digest: %+v, %v", sb, err)
	}
	listed, err := r.svc.Images().List(context.Background(), "org_a")
	if err != nil || len(listed) != 1 || listed[0].Namespace != "" {
		t.Errorf("org A lists %+v, %v; want the shared base only", listed, err)
	}
	listed, err = r.svc.Images().List(context.Background(), "org_b")
	if err != nil || len(listed) != 2 || listed[0].Namespace != "org_b" || listed[1].Namespace != "" {
		t.Errorf("org B lists %+v, %v; want its own base, then the shared one", listed, err)
	}
}

// TestImagesWhoMayChange: members change nothing; an organisation's admin
// changes its own namespace only; the platform admin replaces shared
// images.
func TestImagesWhoMayChange(t *testing.T) {
	r := newImageRig(t)
	ctx := context.Background()
	r.mustImport(platform, "v1")
	if _, err := r.importBase(memberB, "member"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("member import: %v", err)
	}
	if _, err := r.svc.Images().Import(ctx, memberB, bytes.NewReader(nil)); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("member archive import: %v", err)
	}
	if _, err := r.svc.Images().Pull(ctx, memberB, "example.test/x:1"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("member pull: %v", err)
	}
	if err := r.svc.Images().Remove(ctx, memberB, "base"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("member remove: %v", err)
	}
	if err := r.svc.Images().Remove(ctx, adminA, "base"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("org admin removed the shared base: %v", err)
	}
	v2 := r.mustImport(platform, "v2")
	if img, err := r.images.In("org_a").Resolve(ctx, "base"); err != nil || img.Digest != v2.Digest {
		t.Errorf("after the platform admin's replace, org A resolves %+v, %v", img, err)
	}
	r.mustImport(adminB, "b")
	if err := r.svc.Images().Remove(ctx, adminB, "base"); err != nil {
		t.Fatalf("org B's admin removing its own base: %v", err)
	}
	if err := r.svc.Images().Remove(ctx, adminB, "base"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("org B's admin, once its own is gone, removed the shared base: %v", err)
	}
	if err := r.svc.Images().Remove(ctx, platform, "base"); err != nil {
		t.Errorf("platform admin removing the shared base: %v", err)
	}
}

// TestImagesReplaceKeepsLayersInUse: replacing the image sandboxes run on
// keeps its layers until the last of them is deleted; removal is refused
// while a sandbox that sees the image runs on it.
func TestImagesReplaceKeepsLayersInUse(t *testing.T) {
	r := newImageRig(t)
	ctx := context.Background()
	v1 := r.mustImport(platform, "v1")
	first := r.create("org_a", "base")
	second := r.create("org_b", "base")
	v2 := r.mustImport(platform, "v2")
	if !exists(v1.Layers[0]) {
		t.Fatal("replacing base deleted the layer two sandboxes run on")
	}
	third := r.create("org_a", "base")
	if got := r.rt.layerOf(t, third.ID); got != v2.Layers[0] {
		t.Errorf("a new sandbox booted on %s, want v2 %s", got, v2.Layers[0])
	}
	if err := r.svc.Images().Remove(ctx, platform, "base"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("removing base while a sandbox runs on it: %v", err)
	}
	// Org B's own image of the same name is not in use by org A's sandbox.
	r.mustImport(adminB, "b")
	if err := r.svc.Images().Remove(ctx, adminB, "base"); err != nil {
		t.Errorf("org B removing its unused own base: %v", err)
	}

	r.remove(first.ID)
	if !exists(v1.Layers[0]) {
		t.Fatal("deleting one of two sandboxes on v1 took its layer")
	}
	r.remove(second.ID)
	if exists(v1.Layers[0]) {
		t.Error("the last sandbox on v1 was deleted and its layer stayed")
	}
	if !exists(v2.Layers[0]) {
		t.Error("v2's layer went with v1's")
	}
	r.remove(third.ID)
	if err := r.svc.Images().Remove(ctx, platform, "base"); err != nil {
		t.Errorf("removing base once unused: %v", err)
	}
	if exists(v2.Layers[0]) {
		t.Error("v2's layer survived its removal")
	}
}

// TestImagesAdoptSandboxesWithoutPins: a sandbox stored before pins
// existed is pinned to what its reference names before the cache
// changes, so a replace keeps its layers too.
func TestImagesAdoptSandboxesWithoutPins(t *testing.T) {
	r := newImageRig(t)
	ctx := context.Background()
	v1 := r.mustImport(platform, "v1")
	old := &sandbox.Sandbox{ID: "sbx_old", Name: "old", OrganizationID: "org_a", Image: "base", State: sandbox.StateStopped,
		DesiredState: sandbox.StateStopped, Resources: sandbox.DefaultConfig().DefaultResources}
	if err := r.st.CreateSandbox(ctx, old, sandbox.Event{Type: sandbox.EventState, To: sandbox.StateStopped}); err != nil {
		t.Fatal(err)
	}
	r.mustImport(platform, "v2")
	if !exists(v1.Layers[0]) {
		t.Fatal("a replace took the layer of a sandbox made before pins")
	}
	if got := r.images.Pins()["sbx_old"]; len(got) != 1 || got[0] != v1.Digest {
		t.Errorf("pins of the old sandbox: %v", got)
	}
}

// TestImagesRecoveredCreateResolvesInItsOrganisation: a create a crash
// cut short, finished by recovery, boots on the image its organisation
// sees (its own base, not the shared one) and pins it, as a create does.
func TestImagesRecoveredCreateResolvesInItsOrganisation(t *testing.T) {
	r := newImageRig(t)
	ctx := context.Background()
	r.mustImport(platform, "shared")
	own := r.mustImport(adminB, "org-b")
	cut := &sandbox.Sandbox{ID: "sbx_cut", Name: "cut", OrganizationID: "org_b", Image: "base", State: sandbox.StateCreating,
		DesiredState: sandbox.StateRunning, Resources: sandbox.DefaultConfig().DefaultResources}
	if err := r.st.CreateSandbox(ctx, cut, sandbox.Event{Type: sandbox.EventState, To: sandbox.StateCreating}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if sb, err := r.svc.GetByID(ctx, cut.ID); err != nil || sb.State != sandbox.StateRunning {
		t.Fatalf("recovered create: %+v, %v", sb, err)
	}
	if got := r.rt.layerOf(t, cut.ID); got != own.Layers[0] {
		t.Errorf("the recovered create booted on %s, want org B's own base %s", got, own.Layers[0])
	}
	if got := r.images.Pins()[cut.ID]; len(got) != 1 || got[0] != own.Digest {
		t.Errorf("pins of the recovered sandbox: %v", got)
	}
}
