package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// TestCompiledSeccompReused: the first sandbox's filter, as crun compiled
// it from the profile, is kept; the next sandbox is given exactly those
// bytes instead of compiling again, and its init runs under that filter.
// A kept file that cannot be a filter is not used.
func TestCompiledSeccompReused(t *testing.T) {
	d := newInternalDriver(t)
	if d.cfg.Runtime != RuntimeCrun {
		t.Skip("the compiled filter is crun's")
	}
	ctx := context.Background()
	create := func(n int) string {
		id := fmt.Sprintf("bpf%d-%s", n, time.Now().Format("150405"))
		t.Cleanup(func() {
			if err := d.Delete(ctx, id); err != nil {
				t.Error(err)
			}
			ocitest.AssertGone(t, id)
		})
		if err := d.Create(ctx, runtime.Spec{ID: id, DiskMB: 32}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	annotation := func(id string) (string, bool) {
		b, err := os.ReadFile(d.paths(id).config)
		if err != nil {
			t.Fatal(err)
		}
		var spec specs.Spec
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatal(err)
		}
		v, ok := spec.Annotations[seccompBPFAnnotation]
		return v, ok
	}

	kept, err := d.compiledSeccompPath(seccompProfile())
	if err != nil {
		t.Fatal(err)
	}
	first := create(1)
	if _, ok := annotation(first); ok {
		t.Fatal("the first sandbox of a fresh state dir had a compiled filter")
	}
	compiled, err := os.ReadFile(filepath.Join(d.runtimeRoot(), first, "seccomp.bpf"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(kept); err != nil || !bytes.Equal(got, compiled) {
		t.Fatalf("kept filter %s: %v, equal to crun's: %v", kept, err, bytes.Equal(got, compiled))
	}

	second := create(2)
	v, ok := annotation(second)
	if !ok {
		t.Fatal("the second sandbox compiled its filter again")
	}
	if got, err := base64.StdEncoding.DecodeString(v); err != nil || !bytes.Equal(got, compiled) {
		t.Fatalf("the second sandbox's filter is not the one crun compiled (%v)", err)
	}
	pid, err := d.InitPID(second)
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "Seccomp:\t2\n") || !strings.Contains(string(status), "Seccomp_filters:\t1\n") {
		t.Fatalf("init of the second sandbox is not under its filter:\n%s", status)
	}

	if err := os.WriteFile(kept, []byte("1234567"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := annotation(create(3)); ok {
		t.Fatal("a kept file of 7 bytes was given to crun as a filter")
	}
}

// TestCompiledSeccompKeptWhole: creates that learn the filter at the same
// time each write a file of their own; a reader sees no filter or a whole
// one, never a part (a prefix of a program can be a valid, weaker one).
func TestCompiledSeccompKeptWhole(t *testing.T) {
	dir := t.TempDir()
	d := &Driver{cfg: Config{Runtime: RuntimeCrun, StateDir: dir}, binary: os.Args[0], log: slog.Default()}
	prof := seccompProfile()
	cfg, err := json.Marshal(specs.Spec{Linux: &specs.Linux{Seccomp: prof}})
	if err != nil {
		t.Fatal(err)
	}
	bpf := bytes.Repeat([]byte{6, 0, 0, 0, 0, 0, 0xff, 0x7f}, 4000) // RET ALLOW, 32000 bytes
	const creates = 8
	for i := 0; i < creates; i++ {
		id := fmt.Sprintf("s%d", i)
		p := d.paths(id)
		for _, f := range []struct {
			path string
			b    []byte
		}{{p.config, cfg}, {filepath.Join(d.runtimeRoot(), id, "seccomp.bpf"), bpf}} {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, f.b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	kept, err := d.compiledSeccompPath(prof)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for round := 0; round < 20; round++ {
			for i := 0; i < creates; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.keepCompiledSeccomp(d.paths(fmt.Sprintf("s%d", i)), fmt.Sprintf("s%d", i))
				}()
			}
			wg.Wait()
		}
	}()
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		if got, err := os.ReadFile(kept); err == nil && !bytes.Equal(got, bpf) {
			t.Fatalf("read %d bytes of a %d-byte filter", len(got), len(bpf))
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(kept), "*.tmp")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
