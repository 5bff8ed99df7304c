package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestStoreSetting(t *testing.T) {
	for _, c := range []struct {
		store, path string
	}{
		{"", "/data/hutch.db"}, // the default
		{"sqlite", "/data/hutch.db"},
		{"sqlite:///srv/state/hutch.db", "/srv/state/hutch.db"},
		{"sqlite:///srv//state/../hutch.db", "/srv/hutch.db"},
	} {
		t.Run(c.store, func(t *testing.T) {
			args := []string{"--data-dir", "/data"}
			if c.store != "" {
				args = append(args, "--store", c.store)
			}
			cfg, err := LoadServe(args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := cfg.StoreSpec()
			if err != nil {
				t.Fatal(err)
			}
			if spec.Backend != StoreSQLite || spec.Path != c.path {
				t.Fatalf("store %q: %+v, want sqlite at %s", c.store, spec, c.path)
			}
		})
	}
}

// TestStorePostgres checks that a PostgreSQL URL selects the postgres
// backend with the URL as given (libpq's options included).
func TestStorePostgres(t *testing.T) {
	for _, u := range []string{
		"postgres://hutch:s3cret@db.internal/hutch",
		"postgresql://hutch@db.internal:5433/hutch?sslmode=require",
		"postgres:///hutch?host=/var/run/postgresql",
	} {
		cfg, err := LoadServe([]string{"--store", u}, io.Discard)
		if err != nil {
			t.Fatalf("--store %s: %v", u, err)
		}
		spec, err := cfg.StoreSpec()
		if err != nil || spec.Backend != StorePostgres || spec.URL != u {
			t.Fatalf("--store %s: %+v, %v; want postgres with the URL", u, spec, err)
		}
	}
}

// TestStoreRejects checks that every bad store names the setting and the
// forms this build takes, and that a bad postgres URL, which may carry a
// password, is not repeated.
func TestStoreRejects(t *testing.T) {
	for _, c := range []struct {
		store string
		forms string // what the message shows of the forms taken
	}{
		{"postgres://hutch:s3cret@db.internal:port/hutch", "postgres://user:password@host"},
		{"postgresql://hutch:s3cret@db.internal/hutch%zz", "postgres://user:password@host"},
		{"mysql://hutch:s3cret@db.internal/hutch", "sqlite:///path/to/hutch.db or postgres://"},
		{"sqlite3", "sqlite:///path/to/hutch.db or postgres://"},
		{"sqlite://relative/hutch.db", "sqlite:///path/to/hutch.db"},
		{"sqlite:///", "sqlite:///path/to/hutch.db"},
		{"sqlite:///srv/hutch.db?mode=ro", "sqlite:///path/to/hutch.db"},
		{"", "sqlite:///path/to/hutch.db"},
	} {
		t.Run(c.store, func(t *testing.T) {
			_, err := LoadServe([]string{"--store", c.store}, io.Discard)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error %v, want ErrInvalidArgument", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "--store") || !strings.Contains(msg, c.forms) {
				t.Errorf("error %q does not name --store and the forms it takes (%s)", msg, c.forms)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error %q repeats the password", msg)
			}
		})
	}
}

func TestRuntimeSettings(t *testing.T) {
	for _, c := range []struct {
		name         string
		args         []string
		runtime, oci string
		deprecated   bool
	}{
		{"defaults", nil, "oci", "crun", false},
		{"driver and binary", []string{"--runtime", "oci", "--oci-runtime", "runc"}, "oci", "runc", false},
		{"old runc", []string{"--runtime", "runc"}, "oci", "runc", true},
		{"old crun", []string{"--runtime", "crun"}, "oci", "crun", true},
		{"old and new agree", []string{"--runtime", "runc", "--oci-runtime", "runc"}, "oci", "runc", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := LoadServe(c.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Runtime != c.runtime || cfg.OCIRuntime != c.oci {
				t.Fatalf("runtime %q oci-runtime %q, want %q %q", cfg.Runtime, cfg.OCIRuntime, c.runtime, c.oci)
			}
			if got := len(cfg.Warnings) == 1 && strings.Contains(cfg.Warnings[0], "deprecated"); got != c.deprecated {
				t.Fatalf("warnings %q, want a deprecation: %v", cfg.Warnings, c.deprecated)
			}
		})
	}
}

// TestOldRuntimeFromEnvAndFile keeps the configurations written before
// runtime named the driver working, from every layer.
func TestOldRuntimeFromEnvAndFile(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		t.Setenv("HUTCH_RUNTIME", "runc")
		cfg, err := LoadServe(nil, io.Discard)
		if err != nil || cfg.Runtime != "oci" || cfg.OCIRuntime != "runc" || len(cfg.Warnings) != 1 {
			t.Fatalf("HUTCH_RUNTIME=runc: %+v %v", cfg, err)
		}
	})
	t.Run("file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "hutch.yaml")
		if err := os.WriteFile(file, []byte("runtime: runc\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadServe([]string{"--config", file}, io.Discard)
		if err != nil || cfg.Runtime != "oci" || cfg.OCIRuntime != "runc" || len(cfg.Warnings) != 1 {
			t.Fatalf("runtime: runc in a file: %+v %v", cfg, err)
		}
	})
	t.Run("new env wins only when it agrees", func(t *testing.T) {
		t.Setenv("HUTCH_OCI_RUNTIME", "crun")
		_, err := LoadServe([]string{"--runtime", "runc"}, io.Discard)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "--oci-runtime") {
			t.Fatalf("--runtime runc with HUTCH_OCI_RUNTIME=crun: %v, want an error naming both", err)
		}
	})
}

func TestRuntimeRejects(t *testing.T) {
	for _, c := range []struct {
		args     []string
		mentions []string
	}{
		{[]string{"--runtime", "docker"}, []string{"--runtime", `"docker"`, "oci", "--oci-runtime"}},
		{[]string{"--runtime", ""}, []string{"--runtime", "oci"}},
		{[]string{"--oci-runtime", "youki"}, []string{"--oci-runtime", `"youki"`, "crun or runc"}},
		{[]string{"--runtime", "runc", "--oci-runtime", "crun"}, []string{"--runtime", "--oci-runtime", "oci"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := LoadServe(c.args, io.Discard)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error %v, want ErrInvalidArgument", err)
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
		})
	}
}
