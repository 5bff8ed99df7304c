package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindCRIU: a CRIU older than 4.2 is refused with its version named,
// a missing one says where setup builds it, a new enough one is taken.
func TestFindCRIU(t *testing.T) {
	dir := t.TempDir()
	fake := func(name, version string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho Version: "+version+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path, want string
		ok         bool
	}{
		{fake("old", "3.17.1"), "version 3.17", false},
		{fake("trixie", "4.1.1"), "version 4.1", false},
		{fake("new", "4.2.1"), "", true},
		{fake("newer", "5.0"), "", true},
		{filepath.Join(dir, "absent"), "no such file", false},
	} {
		bin, missing := findCRIU(c.path)
		if c.ok != (bin == c.path) || (!c.ok && !strings.Contains(missing, c.want)) || (c.ok && missing != "") {
			t.Errorf("findCRIU(%s) = %q, %q", filepath.Base(c.path), bin, missing)
		}
		if !c.ok && !strings.Contains(missing, "scripts/setup.sh") {
			t.Errorf("findCRIU(%s) does not say how to get CRIU: %q", filepath.Base(c.path), missing)
		}
	}
}
