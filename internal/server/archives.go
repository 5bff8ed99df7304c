package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
	"github.com/hutchdev/hutch/internal/store/postgres"
)

// openArchives opens the archive store, where archived sandboxes' files
// live while their working copies are gone: the database when replicas
// share it (the replica that starts a sandbox need not be the one that
// archived it, and a replica's data dir may go with its pod), a
// directory in the data dir otherwise.
func openArchives(ctx context.Context, dataDir string, st store.Store, log *slog.Logger) (archive.Store, error) {
	dir := filepath.Join(dataDir, "archives")
	if pg, ok := st.(*postgres.Store); ok {
		a := pg.Archives()
		if err := moveLocalArchives(ctx, dir, st, a, log); err != nil {
			return nil, err
		}
		log.Info("archive store: the PostgreSQL database")
		return a, nil
	}
	a, err := archive.OpenLocal(dir)
	if err != nil {
		return nil, fmt.Errorf("open archive store: %w", err)
	}
	log.Info("archive store: a local directory", "dir", dir)
	return a, nil
}

// moveLocalArchives moves into the database the archives that a server on
// PostgreSQL kept in its data dir before the database held them, so that
// the sandboxes archived then restore wherever they start. It moves an
// archive whose sandbox is archived, in error (a start that failed to
// restore restores again) or in an archive or start that recovery has yet
// to settle, when the database holds none for it. It leaves the others,
// named in a warning: the file of a sandbox that has run since (another
// replica started it without its archive) would restore stale files over
// newer ones at its next start, and the database's archive is the newer.
func moveLocalArchives(ctx context.Context, dir string, st sandbox.Store, to archive.Store, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("archives in the data dir: %w", err)
	}
	var left []string
	for _, e := range entries {
		key := e.Name()
		id, isArchive := sandbox.ArchiveOf(key)
		if !e.Type().IsRegular() || archive.CheckKey(key) != nil || !isArchive {
			continue // a Put's temporary file, or nothing of the store's
		}
		move, err := wantsMove(ctx, st, to, id, key)
		if err != nil {
			return fmt.Errorf("move archive %s into the database: %w", key, err)
		}
		if !move {
			left = append(left, key)
			continue
		}
		n, err := moveArchive(ctx, filepath.Join(dir, key), key, to)
		if err != nil {
			return fmt.Errorf("move archive %s into the database: %w", key, err)
		}
		log.Info("moved an archive from the data dir into the database", "key", key, "bytes", n)
	}
	if len(left) > 0 {
		log.Warn("archives in the data dir that nothing reads any more: their sandboxes have run since, are gone, "+
			"or have an archive in the database; remove them once you have judged them", "dir", dir, "files", left)
	}
	return nil
}

// wantsMove reports whether the archive key, in the data dir, is the one
// sandbox id restores from.
func wantsMove(ctx context.Context, st sandbox.Store, to archive.Store, id, key string) (bool, error) {
	sb, err := st.GetSandboxByID(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch sb.State {
	case sandbox.StateArchived, sandbox.StateError, sandbox.StateArchiving, sandbox.StateStarting:
	default:
		return false, nil
	}
	rc, _, err := to.Get(ctx, key)
	if err == nil {
		rc.Close()
		return false, nil
	}
	if errors.Is(err, errdefs.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// moveArchive copies the file at path into to under key and removes the
// file once the copy is whole there.
func moveArchive(ctx context.Context, path, key string, to archive.Store) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := to.Put(ctx, key, f)
	if err != nil {
		return 0, err
	}
	return n, os.Remove(path)
}
