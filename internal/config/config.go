// Package config loads the server's settings from flags, environment
// variables and a config file into one typed struct with defaults and
// Validate. It is the only place the server reads the environment (the
// CLI reads HUTCH_URL and HUTCH_API_KEY in internal/cli).
package config

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// Config is everything `hutch serve` needs.
type Config struct {
	Listen  string
	DataDir string
	APIKey  string // bootstrap admin key; generated when empty
	// Store names the state backend: "sqlite" (<data-dir>/hutch.db),
	// "sqlite:///path/to/hutch.db" or a postgres:// URL; see StoreSpec.
	Store string
	// Runtime names the sandbox driver ("oci"); OCIRuntime the binary the
	// oci driver runs ("crun" or "runc").
	Runtime    string
	OCIRuntime string
	// Runsc is gVisor's runsc; when it exists, sandboxes may choose the
	// gvisor runtime, and Runtime gvisor makes it their default.
	Runsc    string
	LogLevel slog.Level
	// SeedImages holds base.tar, python.tar and node.tar from scripts/setup.sh,
	// imported on start when the image store lacks them.
	SeedImages      string
	ShutdownTimeout time.Duration
	// CheckpointOnShutdown drains the server on a clean shutdown: running
	// sandboxes are checkpointed to disk and resumed by the next start.
	CheckpointOnShutdown bool
	Sandbox              sandbox.Config
	// Kube is the kube runtime's settings.
	Kube Kube
	// NetworkSubnet is the IPv4 range sandbox addresses come from;
	// ProxyDomain turns on host-based port routing ({port}-{id}.<domain>).
	NetworkSubnet string
	ProxyDomain   string
	// WebhookBackoff is the wait after a webhook delivery's first failure;
	// it doubles with each further one.
	WebhookBackoff time.Duration
	// EgressAllow lists the internal CIDRs, addresses and host names that
	// webhook deliveries and image pulls may reach (see Egress).
	EgressAllow []string
	// ConsoleLogMB caps each sandbox's console log (the output of its
	// init, agent and entrypoint), which is kept on the sandbox's disk.
	ConsoleLogMB int64
	// MaxSandboxDiskMB bounds one sandbox's disk; 0 bounds it by the free
	// space of the data dir's file system.
	MaxSandboxDiskMB int64
	// ImageLimits bound each image import and pull (see limits.go).
	ImageLimits ImageLimits
	// Compat configures the vendor-compatible APIs.
	Compat Compat
	// HTTP bounds the listeners' connections; ImageCache is the host-wide
	// cache of base image layers (see serving.go).
	HTTP       HTTP
	ImageCache string
	// Warnings are deprecated settings LoadServe still accepted, each with
	// its replacement; the server logs them when it starts.
	Warnings []string
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:7420",
		DataDir:         defaultDataDir(),
		Store:           StoreSQLite,
		Runtime:         RuntimeOCI,
		OCIRuntime:      OCICrun,
		Runsc:           "/var/cache/hutch/bin/runsc",
		ShutdownTimeout: 30 * time.Second,
		SeedImages:      "/var/cache/hutch/images",
		Sandbox:         sandbox.DefaultConfig(),
		WebhookBackoff:  time.Second,
		ConsoleLogMB:    8,
		NetworkSubnet:   "10.213.0.0/16",
		ProxyDomain:     "localhost",
		HTTP:            DefaultHTTP(),
		ImageCache:      defaultImageCache(),
		ImageLimits:     DefaultImageLimits(),
	}
}

func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/hutch"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "hutch")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "hutch-data"
	}
	return filepath.Join(home, ".local", "share", "hutch")
}

// LoadServe builds the settings of `hutch serve` in layers: the embedded
// defaults, the config file, HUTCH_* environment variables, then flags.
func LoadServe(args []string, stderr io.Writer) (Config, error) {
	c := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "YAML file of settings named like these flags (default /etc/hutch/config.yaml when it exists; env HUTCH_CONFIG)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve the API on")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "where state, images and sandboxes live")
	fs.StringVar(&c.APIKey, "api-key", "", "admin API key of the default organization (generated on first start when empty)")
	fs.StringVar(&c.Store, "store", c.Store, "state backend: sqlite (<data-dir>/hutch.db), sqlite:///path/to/hutch.db, or postgres://user:password@host/db?sslmode=... (a PostgreSQL database)")
	fs.StringVar(&c.Runtime, "runtime", c.Runtime, "default runtime of sandboxes: "+strings.Join(runtimes, ", ")+" (oci always runs; gvisor needs --runsc; crun and runc are still accepted here, deprecated: use --oci-runtime)")
	fs.StringVar(&c.OCIRuntime, "oci-runtime", c.OCIRuntime, "binary the oci driver runs: crun (measured faster) or runc")
	fs.StringVar(&c.Runsc, "runsc", c.Runsc, "gVisor's runsc: when it exists sandboxes may choose runtime gvisor (scripts/build-runsc.sh builds it here)")
	fs.StringVar(&c.SeedImages, "seed-images", c.SeedImages, "directory of base image tarballs imported on start")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.Sandbox.TraceCreates, "trace-creates", c.Sandbox.TraceCreates, "log where each create's time goes, one \"create trace\" line per create (hutch bench --breakdown reads them)")
	fs.DurationVar(&c.Sandbox.StopGrace, "stop-grace", c.Sandbox.StopGrace, "time between SIGTERM and SIGKILL when a sandbox stops")
	fs.Int64Var(&c.ConsoleLogMB, "console-log-mb", c.ConsoleLogMB, "cap of each sandbox's console log (its init's, agent's and entrypoint's output), kept on the sandbox's disk")
	fs.StringVar(&c.Sandbox.DefaultImage, "default-image", c.Sandbox.DefaultImage, "image of sandboxes created without one")
	fs.StringVar(&c.NetworkSubnet, "network-subnet", c.NetworkSubnet, "IPv4 range of sandbox addresses (a /31 each)")
	fs.StringVar(&c.ProxyDomain, "proxy-domain", c.ProxyDomain, "domain of host-based port URLs, {port}-{id}.<domain> (empty: path form only)")
	automationFlags(fs, &c)
	limitFlags(fs, &c)
	compatFlags(fs, &c)
	servingFlags(fs, &c)
	poolFlags(fs, &c)
	kubeFlags(fs, &c)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hutch serve [flags]")
		fmt.Fprintln(stderr, "\nSettings come from the defaults, then the config file, then HUTCH_* environment")
		fmt.Fprintln(stderr, "variables (the flag name in capitals, '-' as '_'), then these flags.")
		fs.PrintDefaults()
	}
	if err := applyLayers(fs, args); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	if err := c.mapDeprecatedRuntime(isSet(fs, "oci-runtime")); err != nil {
		return c, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return c, fmt.Errorf("--log-level: %w", err)
	}
	c.Sandbox.NetworkSubnet, _ = netip.ParsePrefix(c.NetworkSubnet) // Validate refuses a bad one
	if c.Runtime == RuntimeKube {
		for _, r := range c.Kube.ProtectedCIDRs {
			c.Sandbox.ProtectedCIDRs = append(c.Sandbox.ProtectedCIDRs, netip.MustParsePrefix(r)) // parsed by the flag
		}
	}
	return c, c.Validate()
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir is empty")
	}
	if _, err := c.StoreSpec(); err != nil {
		return err
	}
	if err := c.validateRuntime(); err != nil {
		return err
	}
	if p, err := netip.ParsePrefix(c.NetworkSubnet); err != nil || !p.Addr().Is4() || p.Bits() > 24 {
		return fmt.Errorf("--network-subnet %q: must be an IPv4 CIDR of /24 or larger", c.NetworkSubnet)
	}
	if strings.ContainsAny(c.ProxyDomain, "/: \t") || strings.HasPrefix(c.ProxyDomain, ".") {
		return fmt.Errorf("--proxy-domain %q: must be a domain name such as localhost or sandboxes.example.com", c.ProxyDomain)
	}
	if c.ConsoleLogMB < 1 {
		return fmt.Errorf("--console-log-mb %d: must be at least 1", c.ConsoleLogMB)
	}
	if strings.ContainsAny(c.APIKey, " \t\r\n") {
		return fmt.Errorf("API key must not contain whitespace")
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if err := c.Compat.validate(); err != nil {
		return err
	}
	if err := c.HTTP.validate(); err != nil {
		return err
	}
	return c.Sandbox.Validate()
}
