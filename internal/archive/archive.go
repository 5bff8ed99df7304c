// Package archive keeps the packed files of archived sandboxes. The store
// is an interface because there is more than one place to keep them: a
// directory of the server's (Local) for a server alone, the PostgreSQL
// database (store/postgres.Archives) that replicas share, and an
// S3-compatible object store could stand in for either.
package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Store holds blobs by key. Put is atomic: a reader sees the whole blob or
// none, so that a crash mid-archive never leaves a truncated archive that a
// later start would restore from.
type Store interface {
	// Put stores everything r yields under key, replacing any blob there,
	// and returns its size.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Get opens key's blob and returns its size; a missing key is
	// errdefs.ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Delete removes key's blob; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Local is a Store in one directory of the local file system.
type Local struct {
	dir string
}

var _ Store = (*Local)(nil)

// OpenLocal returns a Local store in dir, created 0700 when missing:
// archives hold sandboxes' files, which are nobody else's to read.
func OpenLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("archive store: %w", err)
	}
	return &Local{dir: dir}, nil
}

// validKey keeps keys usable as file names.
var validKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$`)

// CheckKey refuses a key that is not usable as a file name (a path, a dot
// file, more than 201 bytes) with a field error naming key. Every Store
// takes the same keys, so that archives move between stores unrenamed.
func CheckKey(key string) error {
	if !validKey.MatchString(key) {
		return errdefs.InvalidField("key", "%q is not a valid archive key", key)
	}
	return nil
}

func (l *Local) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, key), nil
}

// Put implements Store: a temporary file, synced, then renamed into place.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	p, err := l.path(key)
	if err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(l.dir, ".put-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	n, err := io.Copy(f, readerWithContext{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("archive %s: %w", key, err)
	}
	return n, nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("archive %s: %w", key, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete archive %s: %w", key, err)
	}
	return nil
}

// readerWithContext stops a copy when its context ends.
type readerWithContext struct {
	ctx context.Context
	r   io.Reader
}

func (r readerWithContext) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
