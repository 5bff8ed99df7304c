package oci_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
)

// BenchmarkLifecycle times each step of a sandbox's life through the
// driver, next to the bare runtime binary on the same busybox rootfs, so
// that the driver's overhead over its floor shows as a number.
func BenchmarkLifecycle(b *testing.B) {
	for _, rt := range []string{oci.RuntimeCrun, oci.RuntimeRunc} {
		b.Run("driver/"+rt, func(b *testing.B) { benchDriver(b, rt) })
		b.Run("raw/"+rt, func(b *testing.B) { benchRaw(b, rt) })
	}
}

// steps accumulates the time of each named step over b.N iterations.
type steps map[string]time.Duration

func (s steps) time(name string, fn func() error) error {
	start := time.Now()
	err := fn()
	s[name] += time.Since(start)
	return err
}

func (s steps) report(b *testing.B) {
	for name, d := range s {
		b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), name+"-ms/op")
	}
	b.ReportMetric(0, "ns/op")
}

func benchDriver(b *testing.B, rt string) {
	requireHost(b, rt)
	d := newDriver(b, rt, stateDir(b))
	ctx := context.Background()
	s := steps{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spec := runtime.Spec{ID: "bench" + rt + time.Now().Format("150405.000000")[7:], Image: testImage, DiskMB: 256}
		b.Cleanup(func() { _ = d.Delete(context.Background(), spec.ID) })
		if err := s.time("create", func() error { return d.Create(ctx, spec) }); err != nil {
			b.Fatal(err)
		}
		if err := s.time("pause", func() error { return d.Pause(ctx, spec.ID) }); err != nil {
			b.Fatal(err)
		}
		if err := s.time("resume", func() error { return d.Resume(ctx, spec.ID) }); err != nil {
			b.Fatal(err)
		}
		if err := s.time("stop", func() error { return d.Stop(ctx, spec.ID, time.Second) }); err != nil {
			b.Fatal(err)
		}
		if err := s.time("start", func() error { return d.Start(ctx, spec) }); err != nil {
			b.Fatal(err)
		}
		if err := s.time("delete", func() error { return d.Delete(ctx, spec.ID) }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.report(b)
}

// benchRaw runs the runtime binary by hand: run -d, pause, resume and
// delete --force of a container on the read-only busybox layer, without
// user namespace, overlay or disk.
func benchRaw(b *testing.B, rt string) {
	requireHost(b, rt)
	bin, _ := exec.LookPath(rt)
	dir := stateDir(b)
	root := filepath.Join(dir, "root")
	spec := rawSpec(fixture.layers[0])
	buf, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), buf, 0o600); err != nil {
		b.Fatal(err)
	}
	run := func(args ...string) error {
		out, err := exec.Command(bin, append([]string{"--root", root}, args...)...).CombinedOutput()
		if err != nil {
			b.Fatalf("%s %v: %v: %s", rt, args, err, out)
		}
		return nil
	}
	s := steps{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "rawbench" + rt
		b.Cleanup(func() { _ = exec.Command(bin, "--root", root, "delete", "--force", id).Run() })
		devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		_ = s.time("create", func() error {
			cmd := exec.Command(bin, "--root", root, "run", "--detach", "--bundle", dir, id)
			cmd.Stdout, cmd.Stderr = devnull, devnull
			if err := cmd.Run(); err != nil {
				b.Fatalf("%s run: %v", rt, err)
			}
			return nil
		})
		devnull.Close()
		_ = s.time("pause", func() error { return run("pause", id) })
		_ = s.time("resume", func() error { return run("resume", id) })
		_ = s.time("delete", func() error { return run("delete", "--force", id) })
	}
	b.StopTimer()
	s.report(b)
}

func rawSpec(rootfs string) *specs.Spec {
	return &specs.Spec{
		Version: "1.0.2",
		Root:    &specs.Root{Path: rootfs, Readonly: true},
		Process: &specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace},
				{Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}},
			CgroupsPath: "/hutchbench/raw",
		},
	}
}
