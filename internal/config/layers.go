package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// defaultConfigFile is read when it exists and no other file is named.
const defaultConfigFile = "/etc/hutch/config.yaml"

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return "HUTCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// applyLayers sets flags from the config file, then from the environment,
// so that the command line (parsed after) wins over both. Every setting
// has the same name in all three places.
func applyLayers(set *flag.FlagSet, args []string) error {
	path, explicit := configPath(args)
	if err := applyFile(set, path, explicit); err != nil {
		return err
	}
	var err error
	set.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && v != "" && f.Name != "config" && err == nil {
			if e := set.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// configPath finds the config file named by --config or HUTCH_CONFIG
// (explicit: it must exist), else the default one.
func configPath(args []string) (string, bool) {
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			return val, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	if v := os.Getenv("HUTCH_CONFIG"); v != "" {
		return v, true
	}
	return defaultConfigFile, false
}

// applyFile sets every flag the YAML file names; an unknown name or a bad
// value is an error that names the file and the setting.
func applyFile(set *flag.FlagSet, path string, explicit bool) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var settings map[string]any
	if err := yaml.Unmarshal(b, &settings); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for name, v := range settings {
		if name == "config" || set.Lookup(name) == nil {
			return fmt.Errorf("config file %s: unknown setting %q (settings are named like the flags of hutch serve)", path, name)
		}
		val := fmt.Sprint(v)
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			val = fmt.Sprint(int64(f)) // YAML numbers decode as float64
		}
		if err := set.Set(name, val); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, name, err)
		}
	}
	return nil
}
