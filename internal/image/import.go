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
// become local images. The store's Limits hold while the archive streams
// in: the bytes read, the archive decompressed, and the image unpacked.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ...ImportOption) ([]*Image, error) {
	ctx = s.withBudget(ctx)
	b := budgetOf(ctx)
	// Both formats need random access, so the stream is spooled first.
	f, err := os.CreateTemp(s.tmpDir(), "import-*.tar")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	dec, err := decompress(budgetReader{r: ctxReader{ctx, r}, b: b})
	if err != nil {
		return nil, classify("import", "archive", err)
	}
	defer dec.Close()
	spool := budgetWriter{w: f, b: b, counter: &b.archive, what: "the decompressed archive"}
	if _, err := io.Copy(spool, dec); err != nil {
		return nil, classify("import", "archive", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return s.importArchive(ctx, f.Name(), "archive", importOptionsOf(opts))
}

func importOptionsOf(opts []ImportOption) importOptions {
	var o importOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ImportFile imports the image archive at file (as Import does), or an OCI
// image layout directory.
func (s *Store) ImportFile(ctx context.Context, file string, opts ...ImportOption) ([]*Image, error) {
	ctx = s.withBudget(ctx)
	o := importOptionsOf(opts)
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, notFoundIfMissing(err))
	}
	if fi.IsDir() {
		return s.importLayout(ctx, file, file, o)
	}
	compressed, err := isCompressed(file)
	if err != nil {
		return nil, classify("import", file, err)
	}
	if compressed {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", file, err)
		}
		defer f.Close()
		return s.Import(ctx, f, opts...)
	}
	if err := budgetOf(ctx).readCompressed(fi.Size()); err != nil {
		return nil, classify("import", file, err)
	}
	return s.importArchive(ctx, file, file, o)
}

// importArchive imports the uncompressed archive at file, naming it label
// in errors (never a path of the store's own: they are shown to tenants).
func (s *Store) importArchive(ctx context.Context, file, label string, o importOptions) ([]*Image, error) {
	entries, compressed, err := archiveEntries(file)
	if err != nil {
		return nil, classify("import", label, err)
	}
	if compressed {
		return nil, classify("import", label, corruptf("the archive is compressed twice"))
	}
	if err := checkEntries(ctx, entries); err != nil {
		return nil, classify("import", label, err)
	}
	switch {
	case entries["manifest.json"] != nil:
		return s.importDockerSave(ctx, file, label, entries, o)
	case entries["oci-layout"] != nil:
		dir, err := os.MkdirTemp(s.tmpDir(), "layout-")
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		defer os.RemoveAll(dir)
		if err := extractLayout(ctx, file, dir); err != nil {
			return nil, classify("import", label, err)
		}
		return s.importLayout(ctx, dir, label, o)
	default:
		return nil, fmt.Errorf("import %s: neither a docker save archive nor an OCI layout (no manifest.json or oci-layout): %w",
			label, errdefs.ErrInvalidArgument)
	}
}

// isCompressed reports a gzip or zstd file, which is decompressed first.
func isCompressed(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	return (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) || (n == 4 && string(magic) == "\x28\xb5\x2f\xfd"), nil
}

// archiveEntry is what archiveEntries keeps of a tar header.
type archiveEntry struct {
	typ  byte
	size int64
	link string
}

// archiveEntries lists the top-level names in the tar file, the first
// entry of each name (the one go-containerregistry's tarball reader
// finds); compressed reports a gzip or zstd file instead.
func archiveEntries(file string) (map[string]*archiveEntry, bool, error) {
	compressed, err := isCompressed(file)
	if err != nil || compressed {
		return nil, compressed, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	entries := map[string]*archiveEntry{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries, false, nil
		}
		if err != nil {
			return nil, false, corruptf("read archive: %v", err)
		}
		if n := path.Clean(hdr.Name); entries[n] == nil {
			entries[n] = &archiveEntry{typ: hdr.Typeflag, size: hdr.Size, link: hdr.Linkname}
		}
	}
}

// checkEntries refuses an archive whose files claim more than the
// unpacked limit in all (a sparse entry claims its whole size in a few
// bytes, and reading it costs that much), before any is read.
func checkEntries(ctx context.Context, entries map[string]*archiveEntry) error {
	b := budgetOf(ctx)
	if b == nil || b.limits.Unpacked <= 0 {
		return nil
	}
	var total int64
	for _, e := range entries {
		if e.typ == tar.TypeReg {
			total += e.size
		}
	}
	if total > b.limits.Unpacked {
		return b.unpackedBy.refuse("the archive's files", b.limits.Unpacked)
	}
	return nil
}

// documentSize is the size of the entry name of a docker save archive,
// following links inside the archive as its reader does.
func documentSize(entries map[string]*archiveEntry, name string) (int64, error) {
	for range 16 {
		e := entries[path.Clean(name)]
		switch {
		case e == nil:
			return 0, corruptf("the archive has no %s", name)
		case e.typ == tar.TypeSymlink || e.typ == tar.TypeLink:
			name = path.Join(path.Dir(name), path.Clean(e.link))
		case e.typ != tar.TypeReg:
			return 0, corruptf("%s in the archive is not a file", name)
		default:
			return e.size, nil
		}
	}
	return 0, corruptf("%s in the archive is a chain of links", name)
}

// checkDocument refuses a JSON document of a docker save archive that is
// larger than maxDocument: it would be read whole into memory.
func checkDocument(entries map[string]*archiveEntry, name string) error {
	size, err := documentSize(entries, name)
	if err != nil {
		return err
	}
	if size > maxDocument {
		return corruptf("%s in the archive is %d bytes; image documents are read up to %d", name, size, maxDocument)
	}
	return nil
}

func (s *Store) importDockerSave(ctx context.Context, file, label string, entries map[string]*archiveEntry, o importOptions) ([]*Image, error) {
	if err := checkDocument(entries, "manifest.json"); err != nil {
		return nil, classify("import", label, err)
	}
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, classify("import", label, err)
	}
	if o.name != "" && len(m) != 1 {
		return nil, fmt.Errorf("import %s: a name was given but the archive holds %d images: %w", label, len(m), errdefs.ErrInvalidArgument)
	}
	var out []*Image
	for _, d := range m {
		if err := checkDocument(entries, d.Config); err != nil {
			return nil, classify("import", label, err)
		}
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, classify("import", label, err)
			}
			tag = &t
		} else if len(m) > 1 {
			return nil, fmt.Errorf("import %s: image %s has no name and the archive holds %d images: %w",
				label, d.Config, len(m), errdefs.ErrInvalidArgument)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, classify("import", label, err)
		}
		names := d.RepoTags
		if o.name != "" {
			names = []string{o.name}
		}
		imgs, err := s.importImage(ctx, label, img, names, false, o.namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, imgs...)
	}
	return out, nil
}

// importLayout imports the OCI layout in dir (see layoutDir), naming it
// label in errors.
func (s *Store) importLayout(ctx context.Context, dir, label string, o importOptions) ([]*Image, error) {
	l, err := openLayout(dir)
	if err != nil {
		return nil, classify("import", label, err)
	}
	defer l.Close()
	im, err := l.index()
	if err != nil {
		return nil, classify("import", label, err)
	}
	if o.name != "" && len(im.Manifests) != 1 {
		return nil, fmt.Errorf("import %s: a name was given but the layout holds %d images: %w", label, len(im.Manifests), errdefs.ErrInvalidArgument)
	}
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	var out []*Image
	for _, d := range im.Manifests {
		ref := o.name
		if ref == "" {
			ref = layoutName(d)
		}
		if ref == "" {
			return nil, fmt.Errorf("import %s: image %s has no name; give one: %w", label, d.Digest, errdefs.ErrInvalidArgument)
		}
		img, err := l.image(d, platform)
		if err != nil {
			return nil, classify("import", ref, err)
		}
		imgs, err := s.importImage(ctx, label, img, []string{ref}, true, o.namespace)
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
