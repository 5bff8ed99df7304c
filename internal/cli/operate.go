package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// The operator's verbs run on the server's machine, on its files: they
// find the store as hutch serve does (the config file, HUTCH_*
// variables, then --data-dir and --store).

// storePath resolves the SQLite file of the server's settings.
func storePath(verb string, e *env, args []string) (path, dataDir string, pos []string, err error) {
	fs := e.flagSet(verb)
	cfgFile := fs.String("config", "", "config file of hutch serve (default /etc/hutch/config.yaml when it exists; env HUTCH_CONFIG)")
	dir := fs.String("data-dir", "", "hutch serve's --data-dir (default: the config file's, else the default)")
	st := fs.String("store", "", "hutch serve's --store (default: the config file's, else <data-dir>/hutch.db)")
	summaries := map[string]string{
		"backup":  "Write a consistent copy of the server's store to FILE while the server runs, and list what else to keep.",
		"restore": "Replace the server's store with a backup (stop hutch serve first); the old one is kept beside it.",
	}
	pos, _, err = e.parse(fs, verb, "FILE", summaries[verb], args)
	if err != nil {
		return "", "", nil, err
	}
	if err := needArgs(verb, pos, 1, 1, "FILE"); err != nil {
		return "", "", nil, err
	}
	var serve []string
	for name, v := range map[string]string{"config": *cfgFile, "data-dir": *dir, "store": *st} {
		if v != "" {
			serve = append(serve, "--"+name+"="+v)
		}
	}
	cfg, err := config.LoadServe(serve, io.Discard)
	if err != nil {
		return "", "", nil, usagef(verb, "the server's settings: %v", err)
	}
	spec, err := cfg.StoreSpec()
	if err != nil {
		return "", "", nil, usagef(verb, "%v", err)
	}
	if spec.Backend != config.StoreSQLite {
		return "", "", nil, usagef(verb, "the server's store is PostgreSQL (--store postgres://...), which hutch %s does not handle: "+
			"back it up with pg_dump and restore it with pg_restore (docs/operations.md)", verb)
	}
	return spec.Path, cfg.DataDir, pos, nil
}

func runBackup(ctx context.Context, e *env, args []string) error {
	path, dataDir, pos, err := storePath("backup", e, args)
	if err != nil {
		return err
	}
	dst := pos[0]
	if err := sqlite.Backup(ctx, path, dst); err != nil {
		return err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, map[string]any{"file": dst, "bytes": fi.Size(), "store": path, "alsoKeep": alsoKeep(dataDir)})
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s (%d bytes, checked)\n\n", path, dst, fi.Size())
	fmt.Fprintln(e.stdout, "The store holds records, keys and settings. Also keep, from the same moment:")
	for _, k := range alsoKeep(dataDir) {
		fmt.Fprintf(e.stdout, "  %s\n", k)
	}
	return nil
}

// alsoKeep lists what the store does not hold and a restore needs.
func alsoKeep(dataDir string) []string {
	return []string{
		filepath.Join(dataDir, "archives") + "   archived sandboxes' files (the store only names them)",
		filepath.Join(dataDir, "runtime") + "   sandboxes' disks and runtime records (stopped sandboxes' files live here)",
		filepath.Join(dataDir, "images") + "   the image store: images imported or pulled with credentials cannot be pulled again",
		filepath.Join(dataDir, "proxy-secret") + "   signs port URLs; a new one invalidates every URL handed out",
		filepath.Join(dataDir, "tls") + "   the self-signed certificate clients pinned (--tls-self-signed)",
		filepath.Join(dataDir, "rate-limits.json") + "   rate limits set at run time",
		"/etc/hutch/config.yaml   the server's settings",
	}
}

func runRestore(ctx context.Context, e *env, args []string) error {
	path, _, pos, err := storePath("restore", e, args)
	if err != nil {
		return err
	}
	kept, err := sqlite.Restore(ctx, pos[0], path)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, map[string]string{"store": path, "from": pos[0], "kept": kept})
	}
	fmt.Fprintf(e.stdout, "restored %s from %s\n", path, pos[0])
	if kept != "" {
		fmt.Fprintf(e.stdout, "the database it replaced is kept as %s\n", kept)
	}
	fmt.Fprintln(e.stdout, "start hutch serve: recovery settles each sandbox against what the runtime still has")
	return nil
}
