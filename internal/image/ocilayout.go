package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// extractLayout unpacks an OCI image layout archive into dir. A layout
// holds only dirs and regular files; a link or device in the archive is
// refused rather than made, so nothing read from dir afterwards can lead
// out of it. Files count against the budget's extracted bytes before
// they are written.
func extractLayout(ctx context.Context, archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	b := budgetOf(ctx)
	tr := tar.NewReader(f)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return corruptf("read archive: %v", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return fmt.Errorf("OCI layout entry %q: %w", hdr.Name, err)
		}
		switch {
		case name == "":
		case hdr.Typeflag == tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return layoutEntryError(name, err)
			}
		case hdr.Typeflag == tar.TypeReg:
			if b != nil {
				if err := b.add(&b.extracted, hdr.Size, b.limits.Unpacked, "the extracted OCI layout", b.unpackedBy); err != nil {
					return err
				}
			}
			if err := extractFile(root, name, tr); err != nil {
				return err
			}
		default:
			return corruptf("OCI layout entry %q is not a file or a dir (tar type %q); a layout is read without links", name, hdr.Typeflag)
		}
	}
}

func extractFile(root *os.Root, name string, r io.Reader) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o700); err != nil {
			return layoutEntryError(name, err)
		}
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return layoutEntryError(name, err)
	}
	defer out.Close()
	if _, err := io.Copy(out, r); err != nil {
		if errors.As(err, new(*fs.PathError)) {
			return err
		}
		return corruptf("OCI layout entry %q: %v", name, err)
	}
	return out.Close()
}

// layoutEntryError makes an entry that collides with another (a file
// where a dir was, twice the same name) the archive's fault.
func layoutEntryError(name string, err error) error {
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) {
		return corruptf("OCI layout entry %q collides with another entry", name)
	}
	return err
}

// layoutDir reads an OCI image layout through an os.Root: every path is
// resolved inside the layout, no symlink is followed (one is refused,
// wherever it is on the path), and every document is read up to
// maxDocument bytes. Its errors name paths inside the layout only.
type layoutDir struct {
	root *os.Root
}

func openLayout(dir string) (*layoutDir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, notFoundIfMissing(err)
	}
	return &layoutDir{root: root}, nil
}

func (l *layoutDir) Close() error { return l.root.Close() }

// open opens the regular file name (slash-separated, inside the layout),
// refusing it when it or any dir on its way is a symlink.
func (l *layoutDir) open(name string) (*os.File, int64, error) {
	parts := strings.Split(name, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fi, err := l.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, 0, corruptf("the OCI layout has no %s", name)
		case err != nil:
			return nil, 0, err
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, 0, corruptf("%s in the OCI layout is a symlink; a layout is read without following links", p)
		case i < len(parts)-1 && !fi.IsDir():
			return nil, 0, corruptf("%s in the OCI layout is not a dir", p)
		case i == len(parts)-1 && !fi.Mode().IsRegular():
			return nil, 0, corruptf("%s in the OCI layout is not a regular file", p)
		}
	}
	f, err := l.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, corruptf("%s in the OCI layout is not a regular file", name)
	}
	return f, fi.Size(), nil
}

// document reads the JSON document at name whole, refusing one larger
// than maxDocument before reading it.
func (l *layoutDir) document(name string) ([]byte, error) {
	f, size, err := l.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > maxDocument {
		return nil, corruptf("%s in the OCI layout is %d bytes; image documents are read up to %d", name, size, maxDocument)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDocument {
		return nil, corruptf("%s in the OCI layout is larger than %d bytes", name, maxDocument)
	}
	return b, nil
}

func blobName(h v1.Hash) (string, error) {
	hex, err := diffHex(h)
	if err != nil {
		return "", err
	}
	return "blobs/sha256/" + hex, nil
}

// blobDocument reads the JSON blob h, verified against its digest.
func (l *layoutDir) blobDocument(h v1.Hash) ([]byte, error) {
	name, err := blobName(h)
	if err != nil {
		return nil, err
	}
	b, err := l.document(name)
	if err != nil {
		return nil, err
	}
	if got := digestOf(b); got != h.String() {
		return nil, corruptf("blob %s: content has digest %s", h, got)
	}
	return b, nil
}

// index reads the layout's index.json.
func (l *layoutDir) index() (*v1.IndexManifest, error) {
	b, err := l.document("index.json")
	if err != nil {
		return nil, err
	}
	return parseIndex("index.json", b)
}

func parseIndex(what string, b []byte) (*v1.IndexManifest, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, corruptf("%s is not an OCI image index", what)
	}
	return im, nil
}

// image returns the image d describes, choosing platform from a
// multi-arch index.
func (l *layoutDir) image(d v1.Descriptor, platform v1.Platform) (v1.Image, error) {
	switch {
	case d.MediaType.IsImage():
		raw, err := l.blobDocument(d.Digest)
		if err != nil {
			return nil, err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, corruptf("manifest %s is not an OCI image manifest", d.Digest)
		}
		return partial.CompressedToImage(&layoutImage{l: l, mediaType: d.MediaType, raw: raw, manifest: m})
	case d.MediaType.IsIndex():
		raw, err := l.blobDocument(d.Digest)
		if err != nil {
			return nil, err
		}
		im, err := parseIndex("index "+d.Digest.String(), raw)
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			if m.MediaType.IsImage() && m.Platform != nil && m.Platform.Satisfies(platform) {
				return l.image(m, platform)
			}
		}
		return nil, fmt.Errorf("no %s image in the index: %w", platform, errdefs.ErrNotFound)
	default:
		return nil, fmt.Errorf("%s is a %s, not an image: %w", d.Digest, d.MediaType, errdefs.ErrInvalidArgument)
	}
}

// layoutImage is one image of a layoutDir, as go-containerregistry's
// partial package builds a v1.Image from.
type layoutImage struct {
	l         *layoutDir
	mediaType types.MediaType
	raw       []byte
	manifest  *v1.Manifest
}

var _ partial.CompressedImageCore = (*layoutImage)(nil)

func (i *layoutImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *layoutImage) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *layoutImage) RawConfigFile() ([]byte, error) {
	return i.l.blobDocument(i.manifest.Config.Digest)
}

func (i *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range i.manifest.Layers {
		if d.Digest == h {
			return &layoutLayer{l: i.l, desc: d}, nil
		}
	}
	return nil, corruptf("layer %s is not in the manifest", h)
}

// layoutLayer is a layer blob of a layoutDir; its bytes are verified
// against its digest as they are unpacked (see unpackLayer).
type layoutLayer struct {
	l    *layoutDir
	desc v1.Descriptor
}

func (ll *layoutLayer) Digest() (v1.Hash, error)            { return ll.desc.Digest, nil }
func (ll *layoutLayer) Size() (int64, error)                { return ll.desc.Size, nil }
func (ll *layoutLayer) MediaType() (types.MediaType, error) { return ll.desc.MediaType, nil }

func (ll *layoutLayer) Compressed() (io.ReadCloser, error) {
	name, err := blobName(ll.desc.Digest)
	if err != nil {
		return nil, err
	}
	f, _, err := ll.l.open(name)
	return f, err
}
