package e2e

import (
	"archive/tar"
	"bytes"
	enc "encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/image"
)

// privilegedRootfs is the red team's image (issue 23, point 1): a busybox
// rootfs with a probe that prints its ids and capabilities, a setuid-root
// copy of it, a copy with a v2 file capability (CAP_NET_RAW, as ping
// has), a block device and /dev/mem's 1:3. It returns the tarball and the
// host path of the built probe.
func privilegedRootfs(t *testing.T) ([]byte, string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox (apt-get install busybox-static) is needed for the test image")
	}
	probe := filepath.Join(t.TempDir(), "idprobe")
	build := exec.Command("go", "build", "-o", probe, "../internal/runtime/oci/testdata/idprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build idprobe: %v: %s", err, out)
	}
	// The host runs it as nobody below: its dir must be traversable.
	os.Chmod(filepath.Dir(probe), 0o755)
	bbBin, _ := os.ReadFile(bb)
	probeBin, _ := os.ReadFile(probe)
	caps := make([]byte, 20)
	enc.LittleEndian.PutUint32(caps, 0x02000001) // v2, effective
	enc.LittleEndian.PutUint32(caps[4:], 1<<13)  // CAP_NET_RAW

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Size, h.Format = time.Unix(1700000000, 0), int64(len(body)), tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	for _, d := range []string{"bin", "etc", "root", "tmp", "proc", "sys", "dev"} {
		add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bbBin)
	for _, applet := range []string{"sh", "cat", "cp", "chmod", "sleep", "ls"} {
		add(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "bin/idprobe", Typeflag: tar.TypeReg, Mode: 0o755}, probeBin)
	add(&tar.Header{Name: "bin/rootprobe", Typeflag: tar.TypeReg, Mode: 0o4755}, probeBin)
	add(&tar.Header{Name: "bin/capprobe", Typeflag: tar.TypeReg, Mode: 0o755,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": string(caps)}}, probeBin)
	add(&tar.Header{Name: "dev/sda", Typeflag: tar.TypeBlock, Mode: 0o666, Devmajor: 8}, nil)
	add(&tar.Header{Name: "dev/mem", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}, nil)
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), probe
}

// asHostUser runs argv on the host as uid and gid id.
func asHostUser(id int, argv ...string) (string, bool) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(id), Gid: uint32(id)}}
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func hostUIDOf(t *testing.T, id string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", initPID(t, id)))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			var uid int
			fmt.Sscanf(strings.Fields(v)[0], "%d", &uid)
			return uid
		}
	}
	t.Fatalf("no Uid in the status of %s's init", id)
	return 0
}

// TestHostUsersCannotEnterSandboxes is issue 23's point 1 and issue 19's
// point 3 against a real server: an imported layer leaves nothing
// privileged on the host (no setuid file of host root, no v2 capability,
// no device node, a store other users cannot enter), yet in a sandbox
// the image's setuid probe gives a non-root user euid 0 and its
// capability probe CAP_NET_RAW; two sandboxes run in host uid ranges of
// their own; a setuid copy made inside sandbox A gets host users
// (nobody, A's own root uid) neither into A nor into B; and a deleted
// sandbox's range is released.
func TestHostUsersCannotEnterSandboxes(t *testing.T) {
	s := startServer(t, "")
	rootfs, probe := privilegedRootfs(t)
	img, err := importRootfs(s.c, t, "privileged", rootfs)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the image store holds nothing privileged", func(t *testing.T) {
		store := filepath.Join(s.dataDir, "images")
		layers, _ := filepath.Glob(filepath.Join(store, "layers", "*"))
		if len(layers) == 0 {
			t.Fatal("no layer in the store")
		}
		for _, layer := range layers {
			filepath.WalkDir(layer, func(p string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := os.Lstat(p)
				if err != nil {
					return err
				}
				st := fi.Sys().(*syscall.Stat_t)
				if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 && (st.Uid < image.StorageIDBase || st.Gid < image.StorageIDBase) {
					t.Errorf("%s is set-id and owned by host ids %d:%d", p, st.Uid, st.Gid)
				}
				if fi.Mode()&fs.ModeDevice != 0 && (fi.Mode()&fs.ModeCharDevice == 0 || st.Rdev != 0) {
					t.Errorf("%s is a device node", p)
				}
				v := make([]byte, 64)
				if n, err := unix.Lgetxattr(p, "security.capability", v); err == nil && (n != 24 || v[3] != 3) {
					t.Errorf("%s has capabilities %x, want v3 only", p, v[:n])
				}
				return nil
			})
		}
		if fi, err := os.Stat(store); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("image store mode %v, %v; want 0700", fi.Mode(), err)
		}
		if out, ok := asHostUser(65534, "/bin/ls", filepath.Join(store, "layers")); ok {
			t.Errorf("nobody listed the image store: %s", out)
		}
	})

	a := create(t, s, api.CreateSandboxRequest{Name: "host-a", Image: img.Ref})
	b := create(t, s, api.CreateSandboxRequest{Name: "host-b", Image: img.Ref})
	run := func(id string, argv ...string) string {
		t.Helper()
		res, err := s.c.Exec(ctx(t), id, api.ExecRequest{Command: argv})
		if err != nil {
			t.Fatalf("exec %v: %v", argv, err)
		}
		return res.Stdout + res.Stderr
	}
	if out := run(a.ID, "/bin/idprobe", "as", "1000", "/bin/rootprobe"); !strings.Contains(out, "uid=1000 euid=0 ") {
		t.Errorf("the image's setuid-root probe run by uid 1000 gave %q, want euid 0", out)
	}
	if out := run(a.ID, "/bin/idprobe", "as", "1000", "/bin/capprobe"); !strings.Contains(out, "euid=1000 capeff=0000000000002000") {
		t.Errorf("the image's CAP_NET_RAW probe run by uid 1000 gave %q", out)
	}

	uidA, uidB := hostUIDOf(t, a.ID), hostUIDOf(t, b.ID)
	if d := uidA - uidB; d > -65536 && d < 65536 {
		t.Fatalf("sandboxes run as host uids %d and %d: not ranges of their own", uidA, uidB)
	}
	if out := run(a.ID, "sh", "-c", "cp /bin/idprobe /tmp/made && chmod 4755 /tmp/made && echo ok"); !strings.Contains(out, "ok") {
		t.Fatalf("make a setuid file in A: %s", out)
	}
	sandboxes := filepath.Join(s.dataDir, "runtime", "sandboxes")
	for _, path := range []string{
		filepath.Join(sandboxes, a.ID, "rootfs", "tmp", "made"),
		fmt.Sprintf("/proc/%d/root/tmp/made", initPID(t, a.ID)),
	} {
		if out, ok := asHostUser(65534, path); ok || strings.Contains(out, "euid=") {
			t.Errorf("nobody ran sandbox A's setuid file at %s: %s", path, out)
		}
	}
	for _, uid := range []int{65534, uidA} {
		target := filepath.Join(sandboxes, b.ID, "rootfs", "tmp", fmt.Sprintf("from-%d", uid))
		if out, ok := asHostUser(uid, probe, "x", target); ok {
			t.Errorf("host uid %d wrote into sandbox B: %s", uid, out)
		}
	}

	slot := filepath.Join("/var/lib/hutch/id-ranges", fmt.Sprint((uidA-(1<<30))/65536))
	if owner, err := os.ReadFile(slot); err != nil || !strings.HasSuffix(string(owner), a.ID) {
		t.Errorf("range of A in the registry: %q, %v", owner, err)
	}
	if _, err := s.c.DeleteSandbox(ctx(t), a.ID); err != nil {
		t.Fatal(err)
	}
	waitGone(t, a.ID)
	if owner, err := os.ReadFile(slot); err == nil && strings.HasSuffix(string(owner), a.ID) {
		t.Errorf("A's range is still claimed by A after its delete")
	}
}
