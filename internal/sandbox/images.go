package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// Images is the one door to the server's image cache for every face: it
// holds who may change which images and what an image in use is.
//
// Every organisation has a namespace of its own images, and all share
// one namespace of shared images (the seeded ones and whatever the
// platform admin imports or pulls). An organisation sees and runs its
// own images first, then the shared ones, never another organisation's;
// its admin keys change only its own namespace, and only the platform
// admin changes the shared one. A sandbox is pinned to the image it was
// created from (image.View.Pin), so that no replacement or removal can
// take the layers of its root filesystem while it exists.
type Images struct {
	sandboxes *Service
	cache     *image.Store // nil: the server has no image store
}

// imageGate orders sandbox records against the image cache's view of
// them: a create holds it for reading while its record becomes visible; a
// sweep (sweepLocked) and a removal hold it for writing while they read
// every record and act on what they read, so that no record appears
// between the reading and the acting.
type imageGate struct{ sync.RWMutex }

// WithImages gives the service the image cache it guards.
func WithImages(cache *image.Store) Option {
	return func(s *Service) { s.images = &Images{sandboxes: s, cache: cache} }
}

// Images returns the image door; without WithImages every call answers
// that the server has no image store.
func (s *Service) Images() *Images {
	if s.images == nil {
		return &Images{sandboxes: s}
	}
	return s.images
}

func (i *Images) store() (*image.Store, error) {
	if i.cache == nil {
		return nil, fmt.Errorf("this server has no image store: %w", errdefs.ErrUnavailable)
	}
	return i.cache, nil
}

// namespaceOf is the namespace p's imports and pulls go to: the shared
// one for the platform admin, the organisation's own for any other admin
// key.
func namespaceOf(p auth.Principal) string {
	if p.PlatformAdmin() {
		return ""
	}
	return p.OrganizationID
}

// CanChange refuses callers that may not change images (import, pull,
// remove): only admin keys may, each in its organisation's namespace, the
// platform admin's in the shared one.
func (i *Images) CanChange(p auth.Principal) error {
	if _, err := i.store(); err != nil {
		return err
	}
	if !p.Admin {
		return fmt.Errorf("this API key is not an admin key; only admin keys import, pull or remove images: %w", errdefs.ErrForbidden)
	}
	return nil
}

// List returns the images organisation orgID sees: its own and the
// shared ones.
func (i *Images) List(ctx context.Context, orgID string) ([]*image.Image, error) {
	st, err := i.store()
	if err != nil {
		return nil, err
	}
	return st.In(orgID).List(ctx)
}

// Pull fetches ref into the caller's namespace, replacing what that
// namespace holds under the name (sandboxes made from the old image keep
// it). The registry is dialled through the cache's egress guard.
func (i *Images) Pull(ctx context.Context, p auth.Principal, ref string, opts ...image.PullOption) (*image.Image, error) {
	if err := i.CanChange(p); err != nil {
		return nil, err
	}
	if _, err := image.Normalize(ref); err != nil {
		return nil, errdefs.InvalidField("ref", "%v", err)
	}
	if err := i.sweep(ctx); err != nil {
		return nil, err
	}
	ctx, err := i.sandboxes.withImageQuota(ctx, p.OrganizationID)
	if err != nil {
		return nil, err
	}
	return i.cache.In(namespaceOf(p)).Pull(ctx, ref, opts...)
}

// Ensure fetches ref into organisation orgID's namespace only when the
// organisation sees no image of that name, as a create does before its
// boot, so any caller that may create may call it: it adds an image,
// never replaces one, and never writes the shared namespace (credentials
// given for a private image stay with the organisation that gave them).
func (i *Images) Ensure(ctx context.Context, orgID, ref string, opts ...image.PullOption) (*image.Image, error) {
	st, err := i.store()
	if err != nil {
		return nil, err
	}
	if _, err := image.Normalize(ref); err != nil {
		return nil, errdefs.InvalidField("ref", "%v", err)
	}
	v := st.In(orgID)
	img, err := v.Resolve(ctx, ref)
	if !errors.Is(err, errdefs.ErrNotFound) {
		return img, err
	}
	if ctx, err = i.sandboxes.withImageQuota(ctx, orgID); err != nil {
		return nil, err
	}
	return v.Pull(ctx, ref, opts...)
}

// Import reads a docker-save or OCI-layout tarball into the caller's
// namespace.
func (i *Images) Import(ctx context.Context, p auth.Principal, r io.Reader, opts ...image.ImportOption) ([]*image.Image, error) {
	if err := i.CanChange(p); err != nil {
		return nil, err
	}
	if err := i.sweep(ctx); err != nil {
		return nil, err
	}
	ctx, err := i.sandboxes.withImageQuota(ctx, p.OrganizationID)
	if err != nil {
		return nil, err
	}
	return i.cache.In(namespaceOf(p)).Import(ctx, r, opts...)
}

// ImportRootfs makes a one-layer image named name in the caller's
// namespace from a plain rootfs tarball read from r (an upload, spooled
// by the image store within its limits and the organisation's quota).
func (i *Images) ImportRootfs(ctx context.Context, p auth.Principal, r io.Reader, name string) (*image.Image, error) {
	if err := i.CanChange(p); err != nil {
		return nil, err
	}
	if err := i.sweep(ctx); err != nil {
		return nil, err
	}
	ctx, err := i.sandboxes.withImageQuota(ctx, p.OrganizationID)
	if err != nil {
		return nil, err
	}
	return i.cache.In(namespaceOf(p)).ImportRootfsFrom(ctx, r, name, image.Config{})
}

// withImageQuota returns ctx holding an import or pull made by
// organisation orgID to its image quota as well as to the server's limits
// (the smaller of each applies).
func (s *Service) withImageQuota(ctx context.Context, orgID string) (context.Context, error) {
	set, err := s.store.GetOrgQuota(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if q, ok := set.imageQuota(); ok {
		ctx = image.WithQuota(ctx, q)
	}
	return ctx, nil
}

// Remove deletes an image the caller's organisation sees unless a
// sandbox that can see it, in any state but deleted, runs on it. An
// organisation's admin removes its own images; shared ones are the
// platform admin's.
func (i *Images) Remove(ctx context.Context, p auth.Principal, ref string) error {
	if err := i.CanChange(p); err != nil {
		return err
	}
	if ref == "" {
		return errdefs.InvalidField("ref", "is required")
	}
	gate := &i.sandboxes.imageGate
	gate.Lock()
	defer gate.Unlock()
	img, err := i.cache.In(p.OrganizationID).Resolve(ctx, ref)
	if err != nil {
		return err
	}
	if img.Namespace == "" && !p.PlatformAdmin() {
		return fmt.Errorf("image %s is a shared image; only the platform admin may remove it: %w", img.Ref, errdefs.ErrForbidden)
	}
	live, err := i.sweepLocked(ctx)
	if err != nil {
		return err
	}
	pins := i.cache.Pins()
	users := 0
	for _, sb := range live {
		// An organisation's own image is under its own sandboxes only.
		if img.Namespace != "" && sb.OrganizationID != img.Namespace {
			continue
		}
		if slices.Contains(pins[sb.ID], img.Digest) {
			users++
		}
	}
	if users > 0 {
		return fmt.Errorf("image %s is used by %d sandbox(es); delete them first: %w", img.Ref, users, errdefs.ErrConflict)
	}
	if img.Namespace == "" {
		// Warm pools hold shared images only; none refills once the
		// name is gone.
		i.sandboxes.dropPooledImage(ctx, img.Digest)
	}
	return i.cache.In(img.Namespace).Remove(ctx, img.Ref)
}

// sweep brings the cache's pins in line with the sandbox records (see
// sweepLocked) before a change to the cache.
func (i *Images) sweep(ctx context.Context) error {
	i.sandboxes.imageGate.Lock()
	defer i.sandboxes.imageGate.Unlock()
	_, err := i.sweepLocked(ctx)
	return err
}

// sweepLocked drops the pins of sandboxes that are gone and pins every
// sandbox that has none to what its reference names now in its
// organisation (sandboxes made before pins existed; one still creating
// pins itself again when it boots). It returns the sandboxes not
// deleted. The caller holds the imageGate for writing.
func (i *Images) sweepLocked(ctx context.Context) ([]*Sandbox, error) {
	all, err := i.sandboxes.store.ListAllSandboxes(ctx)
	if err != nil {
		return nil, err
	}
	pins := i.cache.Pins()
	live := all[:0:0]
	seen := map[string]bool{}
	for _, sb := range all {
		if sb.State == StateDeleted {
			continue
		}
		live = append(live, sb)
		seen[sb.ID] = true
		if _, ok := pins[sb.ID]; ok {
			continue
		}
		if _, err := i.cache.In(sb.OrganizationID).Adopt(ctx, sb.ID, sb.Image); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	var gone []string
	for owner := range pins {
		// A prepared sandbox of a warm pool has a pin and no record.
		if !seen[owner] && !strings.HasPrefix(owner, PoolIDPrefix) {
			gone = append(gone, owner)
		}
	}
	if err := i.cache.Unpin(ctx, gone...); err != nil {
		return nil, err
	}
	return live, nil
}
