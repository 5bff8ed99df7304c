package config

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestEgressDefaultRefusesInternal: with no setting the server's own
// connections reach no internal address, the sandbox subnet included;
// --egress-allow opens exactly what it names.
func TestEgressDefaultRefusesInternal(t *testing.T) {
	c, err := LoadServe([]string{"--data-dir", "/tmp/x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Egress()
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"127.0.0.1", "169.254.169.254", "10.213.0.3"} {
		if err := g.Check("webhook target", "", netip.MustParseAddr(ip)); !errors.Is(err, errdefs.ErrForbidden) {
			t.Errorf("%s not refused by default: %v", ip, err)
		}
	}
	c, err = LoadServe([]string{"--data-dir", "/tmp/x", "--egress-allow", "127.0.0.1/32, registry.lan"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.EgressAllow, "|") != "127.0.0.1/32|registry.lan" {
		t.Fatalf("EgressAllow = %q", c.EgressAllow)
	}
	g, _ = c.Egress()
	if err := g.Check("webhook target", "", netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("allowed address refused: %v", err)
	}
	if err := g.Check("webhook target", "", netip.MustParseAddr("127.0.0.2")); err == nil {
		t.Error("address outside the allowance let through")
	}
}

func TestLimitSettings(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/hutch.yaml"
	if err := os.WriteFile(file, []byte("egress-allow: [10.0.0.0/8, 192.168.1.5]\nquota-cpu: 8\nquota-sandboxes: 20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadServe([]string{"--config", file, "--data-dir", "/tmp/x", "--quota-memory-mb", "16384", "--max-sandbox-disk-mb", "20480"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := sandbox.Quota{Sandboxes: 20, CPU: 8, MemoryMB: 16384, DiskMB: -1}
	if c.Sandbox.DefaultQuota != want || c.MaxSandboxDiskMB != 20480 || strings.Join(c.EgressAllow, "|") != "10.0.0.0/8|192.168.1.5" {
		t.Fatalf("quota %+v, max disk %d, egress %q", c.Sandbox.DefaultQuota, c.MaxSandboxDiskMB, c.EgressAllow)
	}
	if d, _ := LoadServe([]string{"--data-dir", "/tmp/x"}, io.Discard); d.Sandbox.DefaultQuota != sandbox.NoQuota {
		t.Fatalf("default quota = %+v, want none", d.Sandbox.DefaultQuota)
	}
	for _, args := range [][]string{
		{"--egress-allow", "10.0.0.0/99"},
		{"--egress-allow", "not a host!"},
		{"--quota-cpu", "-2"},
		{"--quota-sandboxes", "-5"},
		{"--max-sandbox-disk-mb", "-1"},
	} {
		if _, err := LoadServe(append([]string{"--data-dir", "/tmp/x"}, args...), io.Discard); err == nil {
			t.Errorf("LoadServe(%q) accepted", strings.Join(args, " "))
		}
	}
}

func TestImageLimitSettings(t *testing.T) {
	file := t.TempDir() + "/hutch.yaml"
	if err := os.WriteFile(file, []byte("image-max-unpacked-mb: 64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadServe([]string{"--config", file, "--data-dir", "/tmp/x", "--image-max-compressed-mb", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ImageLimits != (ImageLimits{CompressedMB: 0, UnpackedMB: 64}) {
		t.Fatalf("image limits = %+v", c.ImageLimits)
	}
	if d, _ := LoadServe([]string{"--data-dir", "/tmp/x"}, io.Discard); d.ImageLimits != DefaultImageLimits() {
		t.Fatalf("default image limits = %+v", d.ImageLimits)
	}
	if _, err := LoadServe([]string{"--data-dir", "/tmp/x", "--image-max-unpacked-mb", "-1"}, io.Discard); err == nil {
		t.Error("a negative image limit accepted")
	}
}
