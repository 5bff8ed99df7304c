// Package migration is what the SQL stores share of their schema
// migrations: reading the numbered steps each embeds in its binary, and
// deciding which a database still needs. Applying them stays with each
// store, in its own transactions under its own lock (SQLite's single
// writer, PostgreSQL's advisory lock), since that is where they differ.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Step is one numbered schema step, from a file named NNNN_what.sql.
type Step struct {
	Version int
	Name    string
	SQL     string
}

// Load reads the steps dir/*.sql of fsys in version order, and rejects a
// badly named or duplicated file, which would otherwise be skipped or
// applied twice on some machines.
func Load(fsys fs.FS, dir string) ([]Step, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var steps []Step
	seen := map[int]string{}
	for _, p := range names {
		name := path.Base(p)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and _", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		steps = append(steps, Step{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(steps, func(a, b Step) int { return a.Version - b.Version })
	return steps, nil
}

// Pending returns the steps whose versions are not among applied (the
// database's schema_migrations), in order. A database holding a version
// no step has was migrated by a newer hutch: it is refused, naming the
// highest such version, rather than written with an older idea of the
// schema.
func Pending(steps []Step, applied []int) ([]Step, error) {
	known := map[int]bool{}
	for _, s := range steps {
		known[s.Version] = true
	}
	done := map[int]bool{}
	unknown := 0
	for _, v := range applied {
		done[v] = true
		if !known[v] {
			unknown = max(unknown, v)
		}
	}
	if unknown != 0 {
		return nil, fmt.Errorf("the database has schema version %d, which this hutch does not know: it was migrated by a newer hutch", unknown)
	}
	var out []Step
	for _, s := range steps {
		if !done[s.Version] {
			out = append(out, s)
		}
	}
	return out, nil
}
