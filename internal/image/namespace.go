package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Namespaces. Every image of a Store lives in one namespace: "" is the
// shared one (the seeded images, and whatever the platform admin imports
// or pulls), any other is one organisation's own, named by its ID. A
// View is what one namespace sees: its own images first, then the shared
// ones, never another organisation's. Layers are shared by all, by diff
// ID, so two namespaces holding the same image cost one unpack.
//
// In the index an organisation's image is keyed "@<namespace>/<ref>": no
// image reference starts with "@", so no name a caller types can reach
// another namespace's entry.

// nsKey is the index key of ref (a store key) in namespace ns.
func nsKey(ns, ref string) string {
	if ns == "" {
		return ref
	}
	return "@" + ns + "/" + ref
}

// splitKey undoes nsKey.
func splitKey(key string) (ns, ref string) {
	if !strings.HasPrefix(key, "@") {
		return "", key
	}
	ns, ref, _ = strings.Cut(key[1:], "/")
	return ns, ref
}

// View is a Store as one namespace sees it (see In).
type View struct {
	s  *Store
	ns string
}

// In returns the view of namespace ns ("" is the shared namespace alone,
// which is what the Store's own methods act on). An organisation's ID is
// its namespace; one with "/" or "@" in it is refused by every call.
func (s *Store) In(ns string) View { return View{s: s, ns: ns} }

// Namespace is the namespace the view writes to.
func (v View) Namespace() string { return v.ns }

func (v View) check() error {
	if strings.ContainsAny(v.ns, "/@") {
		return fmt.Errorf("image namespace %q: %w", v.ns, errdefs.ErrInvalidArgument)
	}
	return nil
}

// namespaces are the ones a lookup tries, in order.
func (v View) namespaces() []string {
	if v.ns == "" {
		return []string{""}
	}
	return []string{v.ns, ""}
}

// Resolve returns the image ref names in the view: the namespace's own
// image of that name, else the shared one. "sha256:<hex>" finds an image
// of the view by manifest digest.
func (v View) Resolve(ctx context.Context, ref string) (*Image, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	rec, err := v.s.lookupLocked(v.namespaces(), ref, false)
	if err != nil {
		return nil, err
	}
	return v.s.imageLocked(rec)
}

// List returns the images of the view, ordered by reference, the
// namespace's own before a shared one of the same name.
func (v View) List(ctx context.Context) ([]*Image, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	var out []*Image
	for _, k := range v.s.sortedKeysLocked() {
		rec := v.s.idx.Images[k]
		if rec.Namespace != "" && rec.Namespace != v.ns {
			continue
		}
		img, err := v.s.imageLocked(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	// Keys sort "@ns/..." before shared ones; order by reference instead.
	sortImages(out)
	return out, nil
}

func sortImages(imgs []*Image) {
	slices.SortStableFunc(imgs, func(a, b *Image) int {
		if c := strings.Compare(a.Ref, b.Ref); c != 0 {
			return c
		}
		return strings.Compare(b.Namespace, a.Namespace) // own ("org_...") before shared ("")
	})
}

// Remove drops ref from the view's own namespace (never a shared image
// from an organisation's view) and deletes the layers and blobs that no
// other image and no pinned sandbox uses. It does not look at sandbox
// records: the image door checks that no sandbox runs on the image first.
func (v View) Remove(ctx context.Context, ref string) error {
	if err := v.check(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupLocked([]string{v.ns}, ref, false)
	if err != nil {
		return err
	}
	s.dropLocked(rec)
	if err := s.saveLocked(); err != nil {
		return fmt.Errorf("remove image %s: %w", rec.Ref, err)
	}
	if err := s.gcLocked(); err != nil {
		return fmt.Errorf("remove image %s: %w", rec.Ref, err)
	}
	return nil
}

// Pull downloads ref into the view's own namespace (see Store.Pull).
func (v View) Pull(ctx context.Context, ref string, opts ...PullOption) (*Image, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.Pull(ctx, ref, append(opts, func(o *pullOptions) { o.namespace = v.ns })...)
}

// Import reads an image archive into the view's own namespace (see
// Store.Import).
func (v View) Import(ctx context.Context, r io.Reader, opts ...ImportOption) ([]*Image, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return v.s.Import(ctx, r, append(opts, func(o *importOptions) { o.namespace = v.ns })...)
}

// ImportRootfs makes ref the one-layer image of a rootfs tarball in the
// view's own namespace (see Store.ImportRootfs).
func (v View) ImportRootfs(ctx context.Context, tarPath, ref string, cfg Config) (*Image, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return v.ImportRootfsFrom(ctx, f, ref, cfg)
}

// ImportRootfsFrom is ImportRootfs of a tarball read from r (an API
// upload). It is spooled under the store and charged to the compressed
// limit as it arrives, so an upload past the server's or the
// organisation's limit stops there instead of filling the disk first.
func (v View) ImportRootfsFrom(ctx context.Context, r io.Reader, ref string, cfg Config) (*Image, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	key, err := storeKey(ref)
	if err != nil {
		return nil, err
	}
	ctx = v.s.withBudget(ctx)
	label := key + " from the upload"
	f, err := os.CreateTemp(v.s.tmpDir(), "rootfs-upload-*.tar")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, budgetReader{r: r, b: budgetOf(ctx)})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var le *LimitError
	if errors.As(err, &le) {
		return nil, classify("import rootfs", label, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	img, err := v.s.importRootfs(ctx, f.Name(), nsKey(v.ns, key), cfg, nil, nil)
	if err != nil {
		return nil, classify("import rootfs", label, err)
	}
	return img, nil
}

// LibraryName reports whether ref is a bare name of one path component
// ("base", "python:3.12"): an image the server seeds or a Docker Hub
// official image, the names that may enter the shared namespace when a
// sandbox first asks for them (public images, fetched anonymously).
func LibraryName(ref string) bool {
	if strings.HasPrefix(ref, "sha256:") || hasDomain(ref) {
		return false
	}
	repo, _, _ := strings.Cut(ref, "@")
	return !strings.Contains(repo, "/")
}

// allRecordsLocked lists every record the index keeps: the images of
// every namespace and the pinned ones.
func (s *Store) allRecordsLocked() []*record {
	out := make([]*record, 0, len(s.idx.Images)+len(s.idx.Pinned))
	for _, rec := range s.idx.Images {
		out = append(out, rec)
	}
	for _, rec := range s.idx.Pinned {
		out = append(out, rec)
	}
	return out
}

func orEmpty[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
