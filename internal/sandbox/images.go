package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// Images is the one door to the server's image cache for every face: it
// holds who may change the cache and what an image in use is.
type Images struct {
	sandboxes *Service
	cache     *image.Store // nil: the server has no image store
}

// imageGate orders creates against image removal: a create holds it for
// reading while its record becomes visible, a removal for writing while
// it checks that no record uses the image and removes it, so that no
// create slips in between the check and the removal.
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

// CanChange refuses callers that may not change the server-wide cache
// (import, remove): only admin keys may.
func (i *Images) CanChange(p auth.Principal) error {
	if _, err := i.store(); err != nil {
		return err
	}
	if !p.Admin {
		return fmt.Errorf("this API key is not an admin key: %w", errdefs.ErrForbidden)
	}
	return nil
}

// List returns the cached images.
func (i *Images) List(ctx context.Context) ([]*image.Image, error) {
	st, err := i.store()
	if err != nil {
		return nil, err
	}
	return st.List(ctx)
}

// Pull fetches ref into the cache, replacing what the cache holds under
// that name: a change to the server-wide cache, so only callers that may
// import may pull. The registry is dialled through the cache's egress
// guard.
func (i *Images) Pull(ctx context.Context, p auth.Principal, ref string, opts ...image.PullOption) (*image.Image, error) {
	if err := i.CanChange(p); err != nil {
		return nil, err
	}
	if _, err := image.Normalize(ref); err != nil {
		return nil, errdefs.InvalidField("ref", "%v", err)
	}
	return i.cache.Pull(ctx, ref, opts...)
}

// Ensure fetches ref only when the cache lacks it, as a create does
// before its boot (the runtime's own pull on create works the same way),
// so any caller that may create may call it: it adds an image, never
// replaces one. The registry is dialled through the cache's egress guard.
func (i *Images) Ensure(ctx context.Context, ref string, opts ...image.PullOption) (*image.Image, error) {
	st, err := i.store()
	if err != nil {
		return nil, err
	}
	if _, err := image.Normalize(ref); err != nil {
		return nil, errdefs.InvalidField("ref", "%v", err)
	}
	img, err := st.Resolve(ctx, ref)
	if !errors.Is(err, errdefs.ErrNotFound) {
		return img, err
	}
	return st.Pull(ctx, ref, opts...)
}

// Import reads a docker-save or OCI-layout tarball into the cache.
func (i *Images) Import(ctx context.Context, p auth.Principal, r io.Reader, opts ...image.ImportOption) ([]*image.Image, error) {
	if err := i.CanChange(p); err != nil {
		return nil, err
	}
	return i.cache.Import(ctx, r, opts...)
}

// ImportRootfs makes a one-layer image named name from a plain rootfs
// tarball already on disk (see SpoolDir).
func (i *Images) ImportRootfs(ctx context.Context, p auth.Principal, path, name string) (*image.Image, error) {
	if err := i.CanChange(p); err != nil {
		return nil, err
	}
	return i.cache.ImportRootfs(ctx, path, name, image.Config{})
}

// SpoolDir is where an upload is written before ImportRootfs reads it (on
// the cache's file system, so that nothing crosses devices).
func (i *Images) SpoolDir() (string, error) {
	st, err := i.store()
	if err != nil {
		return "", err
	}
	return st.Dir(), nil
}

// Remove deletes an image from the cache unless a sandbox of any
// organisation, in any state but deleted, still uses it.
func (i *Images) Remove(ctx context.Context, p auth.Principal, ref string) error {
	if err := i.CanChange(p); err != nil {
		return err
	}
	if ref == "" {
		return errdefs.InvalidField("ref", "is required")
	}
	st := i.cache
	img, err := st.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	i.sandboxes.imageGate.Lock()
	defer i.sandboxes.imageGate.Unlock()
	all, err := i.sandboxes.store.ListAllSandboxes(ctx)
	if err != nil {
		return err
	}
	users := 0
	for _, sb := range all {
		if o, err := st.Resolve(ctx, sb.Image); err == nil && o.Ref == img.Ref {
			users++
		}
	}
	if users > 0 {
		return fmt.Errorf("image %s is used by %d sandbox(es); delete them first: %w", img.Ref, users, errdefs.ErrConflict)
	}
	return st.Remove(ctx, img.Ref)
}
