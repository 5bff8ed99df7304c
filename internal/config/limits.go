package config

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hutchdev/hutch/internal/egress"
)

// limitFlags registers what bounds tenants: the internal addresses the
// server may dial for them (webhooks, image pulls), the largest disk one
// sandbox may get, and every organisation's default quota (the platform
// admin sets an organisation's own through the API).
func limitFlags(fs *flag.FlagSet, c *Config) {
	fs.Var((*listFlag)(&c.EgressAllow), "egress-allow",
		"comma-separated CIDRs, addresses or host names that webhook deliveries and image pulls may reach although internal (loopback, private, link-local, the sandbox subnet, this host); empty: none")
	fs.Int64Var(&c.MaxSandboxDiskMB, "max-sandbox-disk-mb", c.MaxSandboxDiskMB,
		"largest disk one sandbox may get, in MB (0: the free space of the data dir's file system at each create)")
	q := &c.Sandbox.DefaultQuota
	fs.Int64Var(&q.Sandboxes, "quota-sandboxes", q.Sandboxes,
		"default most sandboxes (not deleted) an organisation may have (-1: no limit)")
	fs.Float64Var(&q.CPU, "quota-cpu", q.CPU,
		"default most cpus an organisation's sandboxes (not deleted) may hold together (-1: no limit)")
	fs.Int64Var(&q.MemoryMB, "quota-memory-mb", q.MemoryMB,
		"default most memory, in MB, an organisation's sandboxes (not deleted) may hold together (-1: no limit)")
	fs.Int64Var(&q.DiskMB, "quota-disk-mb", q.DiskMB,
		"default most disk, in MB, an organisation's sandboxes (not deleted) may hold together (-1: no limit)")
	il := &c.ImageLimits
	fs.Int64Var(&il.CompressedMB, "image-max-compressed-mb", il.CompressedMB,
		"most bytes, in MB, one image import (the upload) or pull (the layer blobs) may read (0: no limit)")
	fs.Int64Var(&il.UnpackedMB, "image-max-unpacked-mb", il.UnpackedMB,
		"most bytes, in MB, one image import or pull may write to disk at each stage: the decompressed archive, an extracted OCI layout, the image's unpacked files (0: no limit)")
}

// ImageLimits bound what one image import or pull may cost the host, so
// that a small upload cannot expand into a full disk (a compression bomb,
// a sparse file in a layer); image.Limits in bytes.
type ImageLimits struct {
	CompressedMB int64
	UnpackedMB   int64
}

// DefaultImageLimits fit the largest common images (CUDA bases unpack
// to 6-7 GB) and stop a bomb long before a data disk fills.
func DefaultImageLimits() ImageLimits {
	return ImageLimits{CompressedMB: 4 << 10, UnpackedMB: 10 << 10}
}

// listFlag is a comma-separated list; each Set replaces the whole list,
// so that a flag overrides the environment and the file rather than
// adding to them. A YAML list in the config file arrives as "[a b]".
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "["), "]")
	*l = nil
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		*l = append(*l, f)
	}
	return nil
}

// Egress returns the guard of the server's own connections to addresses
// tenants choose.
func (c Config) Egress() (*egress.Guard, error) {
	subnet, err := netip.ParsePrefix(c.NetworkSubnet)
	if err != nil {
		return nil, fmt.Errorf("--network-subnet %q: %w", c.NetworkSubnet, err)
	}
	return egress.New(egress.Policy{Allow: c.EgressAllow, Sandboxes: subnet})
}

func (c Config) validateLimits() error {
	if _, err := c.Egress(); err != nil {
		return err
	}
	if c.MaxSandboxDiskMB < 0 {
		return fmt.Errorf("--max-sandbox-disk-mb %d: must be 0 (the free space) or more", c.MaxSandboxDiskMB)
	}
	if c.ImageLimits.CompressedMB < 0 || c.ImageLimits.UnpackedMB < 0 {
		return fmt.Errorf("--image-max-compressed-mb %d, --image-max-unpacked-mb %d: must be 0 (no limit) or more",
			c.ImageLimits.CompressedMB, c.ImageLimits.UnpackedMB)
	}
	return nil
}
