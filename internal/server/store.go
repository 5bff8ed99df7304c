package server

import (
	"context"
	"fmt"
	"os"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/store"
	"github.com/hutchdev/hutch/internal/store/postgres"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// openStore opens the backend cfg.Store names (config.Validate has
// refused any other).
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	spec, err := cfg.StoreSpec()
	if err != nil {
		return nil, err
	}
	switch spec.Backend {
	case config.StoreSQLite:
		if err := createPrivate(spec.Path); err != nil {
			return nil, err
		}
		st, err := sqlite.Open(ctx, spec.Path)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", spec.Path, err)
		}
		return st, nil
	case config.StorePostgres:
		st, err := postgres.Open(ctx, spec.URL)
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("store backend %q has no opener", spec.Backend)
}

// createPrivate creates the database file 0600 before SQLite opens it
// (its -wal and -shm files copy the mode): it holds env values and key
// hashes.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	return os.Chmod(path, 0o600)
}
