package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
)

func backupSandbox(org, name string) *sandbox.Sandbox {
	at := time.Now().UTC().Truncate(time.Microsecond)
	return &sandbox.Sandbox{ID: ids.New("sbx_"), Name: name, OrganizationID: org, Image: "base", Template: "base",
		Resources: sandbox.Resources{CPU: 1, MemoryMB: 256, DiskMB: 1024, Pids: 64},
		State:     sandbox.StateRunning, DesiredState: sandbox.StateRunning, CreatedAt: at, UpdatedAt: at, LastActivityAt: at}
}

// TestBackupUnderLoad takes a backup while writers keep creating and
// updating sandboxes, restores it into another data dir, and finds there
// every sandbox whose create returned before the backup began, each whole.
func TestBackupUnderLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hutch.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	org := &auth.Organization{ID: ids.New("org_"), Name: "load", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var created []string
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sb := backupSandbox(org.ID, fmt.Sprintf("w%d-%d", w, i))
				if err := s.CreateSandbox(ctx, sb, sandbox.Event{Type: sandbox.EventState, To: sandbox.StateRunning, Time: sb.CreatedAt}); err != nil {
					t.Errorf("create: %v", err)
					return
				}
				sb.Metadata = map[string]string{"i": fmt.Sprint(i)}
				if err := s.UpdateSandbox(ctx, sb, sandbox.Event{}); err != nil {
					t.Errorf("update: %v", err)
					return
				}
				mu.Lock()
				created = append(created, sb.ID)
				mu.Unlock()
				n.Add(1)
			}
		}()
	}
	defer wg.Wait()
	defer close(stop)
	for n.Load() < 200 { // the load is on before the backup starts
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	before := append([]string(nil), created...)
	mu.Unlock()
	dst := filepath.Join(t.TempDir(), "backup.db")
	if err := Backup(ctx, path, dst); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	after := n.Load()
	if after == int64(len(before)) {
		t.Log("the writers made no sandbox during the backup")
	}
	if err := Backup(ctx, path, dst); err == nil {
		t.Fatal("a second backup over an existing file succeeded")
	}

	var r *Store
	dataDir := t.TempDir()
	target := filepath.Join(dataDir, "hutch.db")
	if _, err := Restore(ctx, dst, target); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	r, err = Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	all, err := r.ListAllSandboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*sandbox.Sandbox{}
	for _, sb := range all {
		got[sb.ID] = sb
	}
	for _, id := range before {
		if got[id] == nil {
			t.Fatalf("sandbox %s created before the backup is missing from the restored store (%d of %d there)", id, len(got), len(before))
		}
	}
	if len(got) < len(before) {
		t.Fatalf("restored %d sandboxes, want at least %d", len(got), len(before))
	}
	// Each create and its update are separate transactions: a sandbox may
	// be there without its update, but never half-written.
	for id, sb := range got {
		if sb.OrganizationID != org.ID || sb.Resources.MemoryMB != 256 {
			t.Fatalf("restored sandbox %s is not whole: %+v", id, sb)
		}
	}
	if _, err := r.GetOrganization(ctx, org.ID); err != nil {
		t.Fatalf("restored store lost the organisation: %v", err)
	}
}

func TestRestoreRefusesWhatIsNotAStore(t *testing.T) {
	ctx := context.Background()
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "hutch.db")
	if _, err := Restore(ctx, junk, target); err == nil {
		t.Fatal("Restore of a non-database succeeded")
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused restore left %s: %v", target, err)
	}
}

// TestRestoreKeepsTheOldDatabase restores over an existing store and
// finds the old one kept beside it.
func TestRestoreKeepsTheOldDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(ctx, filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	target := filepath.Join(t.TempDir(), "hutch.db")
	b, err := Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	kept, err := Restore(ctx, filepath.Join(dir, "a.db"), target)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, kept); err != nil {
		t.Fatalf("the old database was not kept whole at %q: %v", kept, err)
	}
}
