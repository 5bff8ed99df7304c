package config

import (
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// The store backend, sandbox driver and OCI binaries this build has.
const (
	StoreSQLite = "sqlite"
	// StorePostgres is a PostgreSQL database that several hutch serve
	// processes can share (internal/store/postgres).
	StorePostgres = "postgres"
	RuntimeOCI    = "oci"
	// RuntimeGvisor runs sandboxes on gVisor's runsc, beside oci, when
	// Config.Runsc exists (scripts/build-runsc.sh builds it).
	RuntimeGvisor = "gvisor"
	OCICrun       = "crun"
	OCIRunc       = "runc"
)

// runtimes and ociRuntimes are named in error messages, so that an operator
// who mistypes one sees the choices.
var (
	runtimes    = []string{RuntimeOCI, RuntimeGvisor, RuntimeKube}
	ociRuntimes = []string{OCICrun, OCIRunc}
)

// sqliteForm is the shape of a --store that names its own database file.
const sqliteForm = "sqlite or sqlite:///path/to/hutch.db"

// storeForms are all the shapes of --store, for error messages.
const storeForms = sqliteForm + " or postgres://user:password@host:port/database?sslmode=..."

// StoreSpec is a parsed store setting: which backend, and where its data is.
type StoreSpec struct {
	Backend string // StoreSQLite or StorePostgres
	Path    string // the SQLite database file
	URL     string // the PostgreSQL connection URL, as given (it may hold a password)
}

// StoreSpec parses c.Store. "sqlite" keeps the database in the data dir,
// "sqlite:///abs/path" anywhere else; a postgres:// (or postgresql://)
// URL names a PostgreSQL database in libpq's URL form. The URL, which may
// hold a password, is never repeated in an error.
func (c Config) StoreSpec() (StoreSpec, error) {
	v := c.Store
	if v == StoreSQLite {
		return StoreSpec{Backend: StoreSQLite, Path: filepath.Join(c.DataDir, "hutch.db")}, nil
	}
	scheme, rest, isURL := strings.Cut(v, "://")
	switch {
	case !isURL:
		return StoreSpec{}, errdefs.InvalidField("--store", "unknown store %q; this build has %s", v, storeForms)
	case scheme == "postgres" || scheme == "postgresql":
		if u, err := url.Parse(v); err != nil || u.Opaque != "" || u.Fragment != "" {
			return StoreSpec{}, errdefs.InvalidField("--store", "not a valid PostgreSQL URL (the URL is not repeated: it may hold a password); the form is %s",
				"postgres://user:password@host:port/database?sslmode=...")
		}
		return StoreSpec{Backend: StorePostgres, URL: v}, nil
	case scheme != StoreSQLite:
		return StoreSpec{}, errdefs.InvalidField("--store", "unknown store %q; this build has %s", scheme+"://", storeForms)
	case !strings.HasPrefix(rest, "/") || strings.HasSuffix(rest, "/") || strings.ContainsAny(rest, "?#"):
		return StoreSpec{}, errdefs.InvalidField("--store", "%q: must be %s (an absolute file path, no options)", v, sqliteForm)
	}
	return StoreSpec{Backend: StoreSQLite, Path: filepath.Clean(rest)}, nil
}

// validateRuntime checks the driver and, for the oci driver, its binary.
func (c Config) validateRuntime() error {
	if !slices.Contains(runtimes, c.Runtime) {
		return errdefs.InvalidField("--runtime", "unknown runtime %q; this build has %s (the OCI binary, %s, is chosen with --oci-runtime)",
			c.Runtime, strings.Join(runtimes, ", "), strings.Join(ociRuntimes, " or "))
	}
	if c.Runtime == RuntimeGvisor && !filepath.IsAbs(c.Runsc) {
		return errdefs.InvalidField("--runsc", "must be an absolute path, not %q", c.Runsc)
	}
	if !slices.Contains(ociRuntimes, c.OCIRuntime) { // oci runs beside gvisor too
		return errdefs.InvalidField("--oci-runtime", "unknown OCI runtime %q; must be %s", c.OCIRuntime, strings.Join(ociRuntimes, " or "))
	}
	return nil
}

// mapDeprecatedRuntime keeps old settings working: runtime once named the
// OCI binary, so `runtime: runc` (a flag, HUTCH_RUNTIME or a config file)
// now means the oci driver running runc, with a warning. ociSet says
// whether oci-runtime was set too; if it names another binary the two
// disagree and neither is guessed.
func (c *Config) mapDeprecatedRuntime(ociSet bool) error {
	old := c.Runtime
	if !slices.Contains(ociRuntimes, old) {
		return nil
	}
	if ociSet && c.OCIRuntime != old {
		return errdefs.InvalidField("--runtime", "%q (deprecated, meaning --oci-runtime %s) disagrees with --oci-runtime %q; set runtime to %s",
			old, old, c.OCIRuntime, RuntimeOCI)
	}
	c.Runtime, c.OCIRuntime = RuntimeOCI, old
	c.Warnings = append(c.Warnings, fmt.Sprintf(
		"runtime %q is deprecated: runtime now names the sandbox driver; use runtime %q and oci-runtime %q (--oci-runtime, HUTCH_OCI_RUNTIME)",
		old, RuntimeOCI, old))
	return nil
}

// isSet reports whether the flag name was set by a flag, the environment
// or the config file (applyLayers sets all three through the flag set).
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
