package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestCommittedBundleIsFresh rebuilds the dashboard from web/ and checks
// that the committed dist/ is what the build makes, byte for byte: the
// binary embeds dist/, so a source change without `go generate` would
// ship the old page. It needs web/node_modules (scripts/setup.sh, or
// scripts/build-dashboard.sh deps), and is skipped without it.
func TestCommittedBundleIsFresh(t *testing.T) {
	if _, err := os.Stat("../web/node_modules/@xterm/xterm"); err != nil {
		t.Skip("web/node_modules is missing: run scripts/build-dashboard.sh deps")
	}
	files, err := build("../web")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("../dist")
	if err != nil {
		t.Fatal(err)
	}
	var committed []string
	for _, e := range entries {
		committed = append(committed, e.Name())
	}
	var built []string
	for name := range files {
		built = append(built, name)
	}
	sort.Strings(built)
	if len(built) != len(committed) {
		t.Fatalf("dist/ holds %v, the build makes %v: run go generate ./internal/dashboard", committed, built)
	}
	for _, name := range built {
		have, err := os.ReadFile(filepath.Join("../dist", name))
		if err != nil {
			t.Fatalf("dist/%s: %v: run go generate ./internal/dashboard", name, err)
		}
		if !bytes.Equal(have, files[name]) {
			t.Errorf("dist/%s differs from what web/ builds (%d bytes, want %d): run go generate ./internal/dashboard", name, len(have), len(files[name]))
		}
	}
}

// TestBuildIsReproducible: two builds of the same source are the same bytes.
func TestBuildIsReproducible(t *testing.T) {
	if _, err := os.Stat("../web/node_modules/@xterm/xterm"); err != nil {
		t.Skip("web/node_modules is missing: run scripts/build-dashboard.sh deps")
	}
	a, err := build("../web")
	if err != nil {
		t.Fatal(err)
	}
	b, err := build("../web")
	if err != nil {
		t.Fatal(err)
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two builds", name)
		}
	}
}
