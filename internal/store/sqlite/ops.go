package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/metrics"
)

// Observe times every write transaction and read from now on with f
// (the server's metrics). Call it before the store is shared.
func (s *Store) Observe(f func(op string, d time.Duration, err error)) { s.observer = f }

func (s *Store) observe(op string, start time.Time, err *error) {
	if s.observer != nil {
		s.observer(op, time.Since(start), *err)
	}
}

// SandboxCounts counts the sandboxes not deleted by organisation and
// state, with the resources they hold, for the metrics.
func (s *Store) SandboxCounts(ctx context.Context) ([]metrics.SandboxCount, error) {
	var out []metrics.SandboxCount
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT organization_id, state, count(*), total(cpu), total(memory_mb), total(disk_mb)
			FROM sandboxes WHERE state != 'deleted' GROUP BY organization_id, state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c metrics.SandboxCount
			var mem, disk float64
			if err := rows.Scan(&c.Org, &c.State, &c.Count, &c.CPU, &mem, &disk); err != nil {
				return err
			}
			c.MemoryMB, c.DiskMB = int64(mem), int64(disk)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// Backup writes a consistent copy of the database at path to dst while
// other connections (a running server's) go on reading and writing it:
// VACUUM INTO reads one snapshot of the WAL database in a read
// transaction, which never blocks the writer. dst must not exist.
func Backup(ctx context.Context, path, dst string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup: %s already exists", dst)
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+fmt.Sprint(busyTimeout.Milliseconds())+")")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup %s to %s: %w", path, dst, err)
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return Check(ctx, abs)
}

// Check opens a database file read-only and verifies it is whole and a
// Hutch store (it has the sandboxes and organisations tables).
func Check(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("check %s: integrity check: %s", path, res)
	}
	for _, table := range []string{"sandboxes", "organizations"} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		if n == 0 {
			return fmt.Errorf("check %s: not a Hutch store (no %s table)", path, table)
		}
	}
	return nil
}

// ErrInUse is Restore's refusal while a process has the database open.
var ErrInUse = errors.New("the database is open in a running process; stop hutch serve first")

// Restore replaces the database at path with the backup src, after
// checking src. The database being replaced is kept beside it as
// <path>.before-restore-<time> with its WAL, and no process may have it
// open (a running server would go on writing the old file).
func Restore(ctx context.Context, src, path string) (kept string, err error) {
	if err := Check(ctx, src); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if pids := openedBy(path); len(pids) > 0 {
		return "", fmt.Errorf("restore %s (process %s): %w", path, strings.Join(pids, ", "), ErrInUse)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	tmp := path + ".restoring"
	if err := writeSynced(tmp, b); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		kept = path + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(path+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("restore: keep the old database: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return kept, fmt.Errorf("restore: %w", err)
	}
	return kept, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openedBy lists the processes that have path (or its WAL) open, read
// from /proc.
func openedBy(path string) []string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	targets := map[string]bool{abs: true, abs + "-wal": true, abs + "-shm": true}
	procs, _ := os.ReadDir("/proc")
	var pids []string
	for _, p := range procs {
		if strings.Trim(p.Name(), "0123456789") != "" {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if t, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); err == nil && targets[t] {
				pids = append(pids, p.Name())
				break
			}
		}
	}
	return pids
}
