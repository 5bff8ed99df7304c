package oci_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// TestSandboxesOwnNothingOfEachOther is issue 19's point 3 and issue 23's
// point 1 on real sandboxes: each sandbox runs in a host uid range of its
// own; the image's setuid and file-capability copies of a probe still
// give a non-root user inside euid 0 and CAP_NET_RAW (the image
// store keeps them unprivileged on the host); and a setuid copy made
// inside sandbox A gives a host user nothing: nobody cannot reach it,
// A's ids cannot write into B, and the host's view of the root is nosuid,
// also after a stop and start.
func TestSandboxesOwnNothingOfEachOther(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	ctx := context.Background()
	dir := stateDir(t)
	d := newDriver(t, oci.RuntimeCrun, dir)
	spec := func(id string) runtime.Spec {
		return runtime.Spec{ID: id, Image: testImage, Entrypoint: []string{"sleep", "1000"}, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
	}
	a, b := spec("hostviewa"), spec("hostviewb")
	for _, s := range []runtime.Spec{a, b} {
		t.Cleanup(func() {
			if err := d.Delete(context.Background(), s.ID); err != nil {
				t.Errorf("delete: %v", err)
			}
			ocitest.AssertGone(t, s.ID)
		})
		if err := d.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	uidA, uidB := hostUID(t, d, a.ID), hostUID(t, d, b.ID)
	if uidA == uidB || uidA < 1<<30 || uidB < 1<<30 {
		t.Fatalf("sandbox roots are host uids %d and %d, want two ranges of their own", uidA, uidB)
	}
	if d := uidA - uidB; d > -65536 && d < 65536 {
		t.Errorf("ranges %d and %d overlap", uidA, uidB)
	}

	inside := func(id string, argv ...string) string {
		t.Helper()
		out, err := d.Exec(ctx, id, argv...)
		if err != nil {
			t.Fatalf("%v in %s: %v: %s", argv, id, err, out)
		}
		return string(out)
	}
	asUser := []string{"/bin/idprobe", "as", "1000"}
	if out := inside(a.ID, append(asUser, "/bin/suprobe")...); !strings.Contains(out, "uid=1000 euid=0 ") {
		t.Errorf("the image's setuid-root probe run by uid 1000 gave %q, want euid 0", out)
	}
	if out := inside(a.ID, append(asUser, "/bin/capprobe")...); !strings.Contains(out, "euid=1000 capeff=0000000000002000") {
		t.Errorf("the image's CAP_NET_RAW probe run by uid 1000 gave %q, want that capability", out)
	}
	if out := inside(a.ID, append(asUser, "/bin/idprobe")...); !strings.Contains(out, "euid=1000 capeff=0000000000000000") {
		t.Errorf("the plain probe gave %q", out)
	}
	inside(a.ID, "sh", "-c", "cp /bin/idprobe /tmp/rootprobe && chmod 4755 /tmp/rootprobe")

	sbA, sbB := filepath.Join(dir, "sandboxes", a.ID), filepath.Join(dir, "sandboxes", b.ID)
	probe := filepath.Join(filepath.Dir(fixture.init), "idprobe")
	hostRun := func(uid int, argv ...string) (string, bool) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
		out, err := cmd.CombinedOutput()
		return string(out), err == nil
	}
	pidA, err := d.InitPID(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		for _, path := range []string{
			filepath.Join(sbA, "rootfs", "tmp", "rootprobe"),
			filepath.Join(sbA, "disk", "upper", "tmp", "rootprobe"),
			fmt.Sprintf("/proc/%d/root/tmp/rootprobe", pidA),
		} {
			if out, ok := hostRun(65534, path); ok || strings.Contains(out, "euid=") {
				t.Errorf("nobody ran sandbox A's setuid file at %s: %s", path, out)
			}
		}
		for _, uid := range []int{65534, uidA} {
			target := filepath.Join(sbB, "rootfs", "tmp", fmt.Sprintf("from-%d", uid))
			if out, ok := hostRun(uid, probe, "x", target); ok {
				t.Errorf("host uid %d wrote into sandbox B: %s", uid, out)
			}
		}
		if out, ok := hostRun(65534, "/bin/ls", sbA); ok {
			t.Errorf("nobody listed sandbox A's dir: %s", out)
		}
		for _, sb := range []string{sbA, sbB} {
			if opts := mountOptions(t, filepath.Join(sb, "rootfs")); !strings.Contains(opts, "nosuid") || !strings.Contains(opts, "nodev") {
				t.Errorf("host view of %s is mounted %q, want nosuid,nodev", sb, opts)
			}
		}
		if out := inside(a.ID, append(asUser, "/tmp/rootprobe")...); !strings.Contains(out, "euid=0 ") {
			t.Errorf("inside A, its own setuid file gave %q: the container's copy of the root must stay suid", out)
		}
	}
	t.Run("running", check)

	if err := d.Stop(ctx, a.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := hostUID(t, d, a.ID); got != uidA {
		t.Errorf("after stop and start sandbox A runs as host uid %d, want its range %d", got, uidA)
	}
	if pidA, err = d.InitPID(a.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("after stop and start", check)
}

func hostUID(t *testing.T, d *oci.Driver, id string) int {
	t.Helper()
	uid, err := ocitest.Probe{}.HostUID(context.Background(), d, id)
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

// mountOptions returns the per-mount options of the mount at dir.
func mountOptions(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 5 && fields[4] == dir {
			opts = fields[5] // the last mount at dir is the one on top
		}
	}
	return opts
}
