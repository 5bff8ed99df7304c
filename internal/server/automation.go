package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// openArchives opens the archive store under the data dir, where archived
// sandboxes' files live while their working copies are gone.
func openArchives(dataDir string) (*archive.Local, error) {
	a, err := archive.OpenLocal(filepath.Join(dataDir, "archives"))
	if err != nil {
		return nil, fmt.Errorf("open archive store: %w", err)
	}
	return a, nil
}

// startAutomation runs the reconciler (expiry, auto-actions, stuck
// transitions, purge of deleted records) until ctx ends. The returned
// function waits for it to finish its actions, so that the store is not
// closed under them.
func startAutomation(ctx context.Context, svc *sandbox.Service, log *slog.Logger) (wait func()) {
	var wg sync.WaitGroup
	rec := svc.NewReconciler()
	wg.Add(1)
	go func() {
		defer wg.Done()
		rec.Run(ctx)
	}()
	log.Info("reconciler running")
	return wg.Wait
}
