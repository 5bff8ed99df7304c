package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Annotations an OCI layout uses to name its images: containerd's carries a
// full reference, the OCI one a full reference or only a tag.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// ImportOption configures Import and ImportFile.
type ImportOption func(*importOptions)

type importOptions struct {
	name string
	// namespace is where the images go (set by View.Import).
	namespace string
}

// WithName names the image of an archive that holds exactly one, replacing
// whatever name the archive gives it. An image the archive leaves unnamed
// cannot be imported without it.
func WithName(ref string) ImportOption { return func(o *importOptions) { o.name = ref } }

// Import reads an image archive from r: a `docker save` tarball or an OCI
// image layout tarball, optionally gzip- or zstd-compressed, into the
// shared namespace (View.Import: an organisation's). It returns one Image
// per name imported; see Normalize for how names without a registry
// become local images.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ...ImportOption) ([]*Image, error) {
	// Both formats need random access, so the stream is spooled first.
	f, err := os.CreateTemp(s.tmpDir(), "import-*.tar")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	dec, err := decompress(ctxReader{ctx, r})
	if err != nil {
		return nil, classify("import", "archive", err)
	}
	defer dec.Close()
	if _, err := io.Copy(f, dec); err != nil {
		return nil, classify("import", "archive", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return s.ImportFile(ctx, f.Name(), opts...)
}

// ImportFile imports the image archive at file (as Import does), or an OCI
// image layout directory.
func (s *Store) ImportFile(ctx context.Context, file string, opts ...ImportOption) ([]*Image, error) {
	var o importOptions
	for _, opt := range opts {
		opt(&o)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, notFoundIfMissing(err))
	}
	if fi.IsDir() {
		return s.importLayout(ctx, file, o)
	}
	entries, compressed, err := archiveEntries(file)
	if err != nil {
		return nil, classify("import", file, err)
	}
	switch {
	case compressed:
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", file, err)
		}
		defer f.Close()
		return s.Import(ctx, f, opts...)
	case entries["manifest.json"]:
		return s.importDockerSave(ctx, file, o)
	case entries["oci-layout"]:
		dir, err := os.MkdirTemp(s.tmpDir(), "layout-")
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", file, err)
		}
		defer os.RemoveAll(dir)
		if err := extract(ctx, file, dir); err != nil {
			return nil, classify("import", file, err)
		}
		return s.importLayout(ctx, dir, o)
	default:
		return nil, fmt.Errorf("import %s: neither a docker save archive nor an OCI layout (no manifest.json or oci-layout): %w",
			file, errdefs.ErrInvalidArgument)
	}
}

// archiveEntries lists the top-level names in the tar file; compressed
// reports a gzip or zstd file, which the caller decompresses first.
func archiveEntries(file string) (map[string]bool, bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) || (n == 4 && string(magic) == "\x28\xb5\x2f\xfd") {
		return nil, true, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, false, err
	}
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, false, nil
		}
		if err != nil {
			return nil, false, corruptf("read archive: %v", err)
		}
		names[path.Clean(hdr.Name)] = true
	}
}

// extract unpacks an archive with the same path checks as a layer.
func extract(ctx context.Context, archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = unpackTar(ctx, dir, f)
	return err
}

func (s *Store) importDockerSave(ctx context.Context, file string, o importOptions) ([]*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, classify("import", file, err)
	}
	if o.name != "" && len(m) != 1 {
		return nil, fmt.Errorf("import %s: a name was given but the archive holds %d images: %w", file, len(m), errdefs.ErrInvalidArgument)
	}
	var out []*Image
	for _, d := range m {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, classify("import", file, err)
			}
			tag = &t
		} else if len(m) > 1 {
			return nil, fmt.Errorf("import %s: image %s has no name and the archive holds %d images: %w",
				file, d.Config, len(m), errdefs.ErrInvalidArgument)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, classify("import", file, err)
		}
		names := d.RepoTags
		if o.name != "" {
			names = []string{o.name}
		}
		imgs, err := s.importImage(ctx, file, img, names, false, o.namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, imgs...)
	}
	return out, nil
}

func (s *Store) importLayout(ctx context.Context, dir string, o importOptions) ([]*Image, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, classify("import", dir, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, classify("import", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, classify("import", dir, err)
	}
	if o.name != "" && len(im.Manifests) != 1 {
		return nil, fmt.Errorf("import %s: a name was given but the layout holds %d images: %w", dir, len(im.Manifests), errdefs.ErrInvalidArgument)
	}
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	var out []*Image
	for _, d := range im.Manifests {
		ref := o.name
		if ref == "" {
			ref = layoutName(d)
		}
		if ref == "" {
			return nil, fmt.Errorf("import %s: image %s has no name; give one: %w", dir, d.Digest, errdefs.ErrInvalidArgument)
		}
		img, err := layoutImage(idx, d, platform)
		if err != nil {
			return nil, classify("import", ref, err)
		}
		imgs, err := s.importImage(ctx, ref, img, []string{ref}, true, o.namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, imgs...)
	}
	return out, nil
}

// layoutName is the reference an OCI layout gives a manifest: a ref.name
// that is only a tag ("latest") names nothing on its own.
func layoutName(d v1.Descriptor) string {
	if n := d.Annotations[annotationContainerdName]; n != "" {
		return n
	}
	if n := d.Annotations[annotationRefName]; strings.ContainsAny(n, ":/@") {
		return n
	}
	return ""
}

// layoutImage returns the image d describes, choosing platform from a
// multi-arch index.
func layoutImage(idx v1.ImageIndex, d v1.Descriptor, platform v1.Platform) (v1.Image, error) {
	if d.MediaType.IsImage() {
		return idx.Image(d.Digest)
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is a %s, not an image: %w", d.Digest, d.MediaType, errdefs.ErrInvalidArgument)
	}
	child, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range cm.Manifests {
		if m.MediaType.IsImage() && m.Platform != nil && m.Platform.Satisfies(platform) {
			return child.Image(m.Digest)
		}
	}
	return nil, fmt.Errorf("no %s image in the index: %w", platform, errdefs.ErrNotFound)
}

// importImage stores img under every name in names, in namespace ns.
// compressed is as for addImage.
func (s *Store) importImage(ctx context.Context, source string, img v1.Image, names []string, compressed bool, ns string) ([]*Image, error) {
	var out []*Image
	for _, n := range names {
		key, err := storeKey(n)
		if err != nil {
			return nil, err
		}
		// Layers are unpacked by the first name and found cached by the rest.
		res, err := s.addImage(ctx, nsKey(ns, key), img, addOptions{compressed: compressed})
		if err != nil {
			return nil, classify("import", fmt.Sprintf("%s from %s", key, filepath.Base(source)), err)
		}
		out = append(out, res)
	}
	return out, nil
}

func notFoundIfMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %w", errdefs.ErrNotFound, err)
	}
	return err
}
