package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// layerSource is where one layer's bytes come from: a registry blob, a blob
// in an imported tarball, or a plain rootfs tar.
type layerSource struct {
	diffID     v1.Hash // expected uncompressed digest; zero when not known in advance
	digest     v1.Hash // expected compressed digest, checked when compressed is set
	size       int64   // bytes open returns, for progress; 0 when unknown
	compressed bool    // open returns the blob as stored (gzip, zstd or plain tar)
	open       func() (io.ReadCloser, error)
}

// flight is one unpack under way, so that two pulls sharing a layer download
// it once: the second waits for the first.
type flight struct {
	done chan struct{}
	err  error
}

// hold keeps layers from garbage collection while an image using them is
// being assembled; release undoes it.
func (s *Store) hold(hexes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hexes {
		s.holds[h]++
	}
}

func (s *Store) release(hexes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hexes {
		if s.holds[h]--; s.holds[h] <= 0 {
			delete(s.holds, h)
		}
	}
}

// ensureLayer makes the layer src.diffID present in the cache, unpacking it
// unless it already is or another caller is unpacking it. cached reports
// that nothing was read from src. progress receives bytes read so far.
func (s *Store) ensureLayer(ctx context.Context, src layerSource, progress func(int64)) (cached bool, err error) {
	hex := src.diffID.Hex
	for {
		s.mu.Lock()
		if _, ok := s.idx.Layers[hex]; ok {
			s.mu.Unlock()
			return true, nil
		}
		f := s.inflight[hex]
		if f == nil {
			f = &flight{done: make(chan struct{})}
			s.inflight[hex] = f
			s.mu.Unlock()
			f.err = s.unpackAndCommit(ctx, src, progress)
			s.mu.Lock()
			delete(s.inflight, hex)
			close(f.done)
			s.mu.Unlock()
			return false, f.err
		}
		s.mu.Unlock()
		select {
		case <-f.done:
			// Loop: either the layer is now in the index, or the other
			// unpack failed (perhaps only its context ended) and this
			// caller tries itself.
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (s *Store) unpackAndCommit(ctx context.Context, src layerSource, progress func(int64)) error {
	u, err := s.unpackLayer(ctx, src, progress)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLayerLocked(u)
}

// commitLayerLocked renames a complete unpacked dir into layers/ and records
// it. If the layer is already there (an identical rootfs imported twice) the
// new copy is dropped.
func (s *Store) commitLayerLocked(u *unpacked) error {
	tmp, hex := u.dir, u.diffID.Hex
	if _, ok := s.idx.Layers[hex]; ok {
		return os.RemoveAll(tmp)
	}
	if err := os.Rename(tmp, s.layerPath(hex)); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, fs.ErrExist) || errors.Is(err, errNotEmpty) {
			return fmt.Errorf("layer sha256:%s: a dir not in the index is in the way: %w", hex, err)
		}
		return fmt.Errorf("layer sha256:%s: %w", hex, err)
	}
	s.idx.Layers[hex] = layerRecord{Size: u.size}
	return s.saveLocked()
}

// unpacked is a layer unpacked into a dir under tmp/, not yet committed.
type unpacked struct {
	dir     string
	diffID  v1.Hash
	size    int64 // bytes of regular files
	tarSize int64 // bytes of the uncompressed tar stream
}

// unpackLayer unpacks src into a new dir under tmp/ and verifies its
// digests. On any failure the dir is removed, so no half-unpacked layer
// outlives the call.
func (s *Store) unpackLayer(ctx context.Context, src layerSource, progress func(int64)) (_ *unpacked, err error) {
	dir, err := os.MkdirTemp(s.tmpDir(), "layer-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(dir, storageID(0), storageID(0)); err != nil {
		return nil, err
	}
	rc, err := src.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()

	raw := &countingReader{r: ctxReader{ctx, rc}, h: sha256.New(), report: progress}
	// Uncompressed, the blob is the tar stream: raw's hash is the diff ID.
	tarStream, diffHash := &countingReader{r: raw}, raw.h
	if src.compressed {
		dec, err := decompress(raw)
		if err != nil {
			return nil, corruptf("%v", err)
		}
		defer dec.Close()
		diffHash = sha256.New()
		tarStream = &countingReader{r: dec, h: diffHash}
	}
	size, err := unpackTarSkipping(ctx, dir, tarStream, func(name string) {
		s.log.Warn("image layer: device node left out (sandboxes get their own /dev)", "path", name)
	})
	if err != nil {
		return nil, err
	}
	// The digests cover every byte, including the tar's end padding and
	// anything the decompressor has not consumed yet.
	if err := drainTail(tarStream); err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return nil, err
	}
	raw.flush()
	if src.compressed && src.digest.Hex != "" {
		if got := fmt.Sprintf("sha256:%x", raw.h.Sum(nil)); got != src.digest.String() {
			return nil, fmt.Errorf("layer %s: content has digest %s: %w", src.digest, got, errdefs.ErrInvalidArgument)
		}
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", diffHash.Sum(nil))}
	if src.diffID.Hex != "" && diffID != src.diffID {
		return nil, fmt.Errorf("layer with diff ID %s: content has diff ID %s: %w", src.diffID, diffID, errdefs.ErrInvalidArgument)
	}
	return &unpacked{dir: dir, diffID: diffID, size: size, tarSize: tarStream.n}, nil
}

// decompress recognises gzip and zstd by their magic numbers, whatever the
// media type says, and passes a plain tar through.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		// The window is what the decoder keeps in memory: 128 MiB at most,
		// the zstd tool's own default limit (a frame may ask for 512 MiB
		// or more, per layer unpacking at once).
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	default:
		return io.NopCloser(br), nil
	}
}

// countingReader counts and (if h is set) hashes what it reads, and reports
// progress every progressStep bytes, so a CLI redraws a bar at a sane rate.
type countingReader struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	reported int64
	report   func(int64)
}

const progressStep = 256 << 10

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	c.n += int64(n)
	if c.report != nil && c.n-c.reported >= progressStep {
		c.flush()
	}
	return n, err
}

func (c *countingReader) flush() {
	if c.report != nil && c.n != c.reported {
		c.reported = c.n
		c.report(c.n)
	}
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// diffHex returns the hex of a sha256 diff ID, refusing other algorithms:
// layer dirs are named by it.
func diffHex(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.Trim(h.Hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("diff ID %q: only sha256 is supported: %w", h, errdefs.ErrInvalidArgument)
	}
	return h.Hex, nil
}
