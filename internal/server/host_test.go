package server

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemTotalMB(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(p, []byte("MemFree:          123 kB\nMemTotal:       24684544 kB\nSwapTotal: 0 kB\n"), 0o600)
	if mb, err := memTotalMB(p); err != nil || mb != 24106 {
		t.Fatalf("memTotalMB = %d, %v; want 24106", mb, err)
	}
	os.WriteFile(p, []byte("MemFree: 1 kB\n"), 0o600)
	if _, err := memTotalMB(p); err == nil {
		t.Fatal("a meminfo without MemTotal accepted")
	}
}

// TestReadHost measures this machine: what it reports must be what a
// sandbox can be given here, never zero.
func TestReadHost(t *testing.T) {
	h, err := readHost(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	free, err := h.FreeDiskMB()
	if h.CPU < 1 || h.MemoryMB < 64 || err != nil || free <= 0 {
		t.Fatalf("host %+v, free %d MB (%v)", h, free, err)
	}
}
