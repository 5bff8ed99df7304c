package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Limits bound what one import or pull may cost the host, so that a small
// upload cannot expand into a full disk (a zstd bomb, a sparse file in a
// layer). Zero means no limit.
type Limits struct {
	// Compressed bounds the bytes read: an import's upload, or the layer
	// blobs a pull downloads.
	Compressed int64
	// Unpacked bounds the bytes written to disk, counted apart for each
	// stage of the work: an import's decompressed archive, an OCI layout
	// extracted from it, and the files the image's layers unpack to.
	Unpacked int64
}

// WithLimits sets the limits of every Import, ImportFile, Pull and
// View.ImportRootfs of the store. Seeding (SeedRootfs) is the operator's
// own and has none.
func WithLimits(l Limits) OpenOption { return func(s *Store) { s.limits = l } }

// maxDocument bounds a JSON document read from an image (index.json, a
// manifest, a config, docker save's manifest.json): real ones are a few
// KB, and each is read whole into memory.
const maxDocument = 4 << 20

// LimitError is an import or pull that went past one of the store's
// Limits or its organisation's (WithQuota). It is an invalid argument (the
// image is too large for this server), and its text names the limit and
// the setting that raises it.
type LimitError struct {
	What  string // what exceeded it: "the upload", "the archive unpacked", ...
	Limit string // the setting: "--image-max-unpacked-mb", "quota.imageMaxUnpackedMB"
	Max   int64  // bytes
	// Quota is set when Limit is the organisation's quota, not the
	// server's flag.
	Quota bool
}

func (e *LimitError) Error() string {
	if e.Quota {
		return fmt.Sprintf("too large: %s would pass %s, the organization's quota per import or pull (%s; the platform admin sets it)", e.What, sizeText(e.Max), e.Limit)
	}
	return fmt.Sprintf("too large: %s would pass %s, this server's limit per import or pull (%s)", e.What, sizeText(e.Max), e.Limit)
}

// Unwrap makes a LimitError match ErrInvalidArgument: the API answers 400.
func (e *LimitError) Unwrap() error { return errdefs.ErrInvalidArgument }

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// Flags that set the Limits (see internal/config); named in LimitError.
const (
	flagCompressed = "--image-max-compressed-mb"
	flagUnpacked   = "--image-max-unpacked-mb"
)

// setting names what set one bound of a budget, for its LimitError.
type setting struct {
	name  string
	quota bool
}

// Quota is an organisation's own Limits for one import or pull, with
// the names of its fields for a LimitError ("quota.imageMaxUnpackedMB").
type Quota struct {
	Limits
	CompressedField, UnpackedField string
}

type quotaKey struct{}

// WithQuota returns ctx whose import or pull is held to q as well as to
// the store's Limits: each bound is the smaller of the two (zero: none),
// and a refusal by q's names q's field.
func WithQuota(ctx context.Context, q Quota) context.Context {
	return context.WithValue(ctx, quotaKey{}, q)
}

// budget counts one import's or pull's bytes against its limits.
// Layers unpack in parallel, so the counters are atomic.
type budget struct {
	limits                   Limits
	compressedBy, unpackedBy setting
	read                     atomic.Int64 // compressed bytes read
	archive                  atomic.Int64 // an import's decompressed archive, spooled
	extracted                atomic.Int64 // an OCI layout extracted from the archive
	layers                   atomic.Int64 // files written by unpacking layers
}

type budgetKey struct{}

// withBudget returns ctx carrying a budget of the store's limits, or ctx
// itself when it carries one already (Import calling ImportFile): one
// operation, one budget. The budget rides in the context because it must
// reach the tar unpacker through the layer cache's shared machinery
// (ensureLayer, unpackLayer), which the operation does not otherwise
// parameterise.
func (s *Store) withBudget(ctx context.Context) context.Context {
	if budgetOf(ctx) != nil {
		return ctx
	}
	b := &budget{limits: s.limits, compressedBy: setting{name: flagCompressed}, unpackedBy: setting{name: flagUnpacked}}
	if q, ok := ctx.Value(quotaKey{}).(Quota); ok {
		tighter := func(q, server int64) bool { return q > 0 && (server <= 0 || q < server) }
		if tighter(q.Compressed, b.limits.Compressed) {
			b.limits.Compressed, b.compressedBy = q.Compressed, setting{name: q.CompressedField, quota: true}
		}
		if tighter(q.Unpacked, b.limits.Unpacked) {
			b.limits.Unpacked, b.unpackedBy = q.Unpacked, setting{name: q.UnpackedField, quota: true}
		}
	}
	return context.WithValue(ctx, budgetKey{}, b)
}

func budgetOf(ctx context.Context) *budget {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	return b
}

// add charges n bytes to counter, failing once it passes max.
func (b *budget) add(counter *atomic.Int64, n, max int64, what string, by setting) error {
	if b == nil || max <= 0 {
		return nil
	}
	if counter.Add(n) > max {
		return by.refuse(what, max)
	}
	return nil
}

func (by setting) refuse(what string, max int64) *LimitError {
	return &LimitError{What: what, Limit: by.name, Max: max, Quota: by.quota}
}

func (b *budget) readCompressed(n int64) error {
	if b == nil {
		return nil
	}
	return b.add(&b.read, n, b.limits.Compressed, "the image's compressed data", b.compressedBy)
}

// chargeEntry charges a layer's tar entry before its content is written
// or read: a regular file costs its size (a sparse entry of a few bytes in
// the tar still writes its whole size), so the limit holds before the
// disk fills, not after; an entry of another type costs the content the
// tar reader decompresses to skip it.
func chargeEntry(ctx context.Context, hdr *tar.Header) error {
	b := budgetOf(ctx)
	if b == nil || hdr.Size <= 0 {
		return nil
	}
	return b.add(&b.layers, hdr.Size, b.limits.Unpacked, "the image's unpacked files", b.unpackedBy)
}

// maxZstdWindow bounds the history a zstd decoder keeps (see decompress).
const maxZstdWindow = 128 << 20

// maxTarTail bounds what a layer may hold after its tar's end: padding
// to a record (10 KiB) in practice. Without it, data appended to a tar
// (a compression bomb after the end marker) would be decompressed in
// full to verify the layer's digests.
const maxTarTail = 1 << 20

// drainTail reads what follows the end of a layer's tar, for its digest.
func drainTail(r io.Reader) error {
	n, err := io.Copy(io.Discard, io.LimitReader(r, maxTarTail+1))
	if err != nil {
		return corruptf("%v", err)
	}
	if n > maxTarTail {
		return corruptf("more than %d bytes follow the end of the layer's tar", maxTarTail)
	}
	return nil
}

// budgetReader charges every byte read from r as compressed data.
type budgetReader struct {
	r io.Reader
	b *budget
}

func (br budgetReader) Read(p []byte) (int, error) {
	n, err := br.r.Read(p)
	if cerr := br.b.readCompressed(int64(n)); cerr != nil {
		return n, cerr
	}
	return n, err
}

// budgetWriter charges every byte written to w to counter before writing
// it, so that nothing past the limit reaches the disk.
type budgetWriter struct {
	w       io.Writer
	b       *budget
	counter *atomic.Int64
	what    string
}

func (bw budgetWriter) Write(p []byte) (int, error) {
	if err := bw.b.add(bw.counter, int64(len(p)), bw.b.limits.Unpacked, bw.what, bw.b.unpackedBy); err != nil {
		return 0, err
	}
	return bw.w.Write(p)
}
