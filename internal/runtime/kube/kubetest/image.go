package kubetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/ocilayout"
)

// No registry is reachable here, so images reach the cluster's containerd
// as OCI archives made on the spot from a root filesystem tarball (one
// uncompressed layer) and imported with ctr; pods use imagePullPolicy
// Never.

// ImportRootfs imports the root filesystem tarball at path (such as
// /var/cache/hutch/images/base.tar, built by scripts/build-base-images.sh)
// as image ref whose entrypoint is entrypoint.
func (c *Cluster) ImportRootfs(ref, path string, entrypoint ...string) error {
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	return c.importLayer(ref, open, entrypoint)
}

// ImportBusybox imports a small image holding the host's static busybox
// (Debian's busybox-static) as /bin/busybox with its applets linked in
// /bin and a root-only /etc/passwd and /etc/group (the root filesystem the
// runtime suite expects), as image ref whose entrypoint is entrypoint.
func (c *Cluster) ImportBusybox(ref string, entrypoint ...string) error {
	layer, err := busyboxLayer()
	if err != nil {
		return err
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil }
	return c.importLayer(ref, open, entrypoint)
}

// importPause imports the sandbox image: busybox sleeping as PID 1. The
// container runtime stops a sandbox with SIGKILL, so it needs no handler.
func (c *Cluster) importPause() error {
	return c.ImportBusybox(PauseImage, "/bin/busybox", "sleep", "2147483647")
}

func busyboxLayer() ([]byte, error) {
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, fmt.Errorf("busybox (apt-get install busybox-static): %w", err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	for _, d := range []string{"bin/", "dev/", "etc/", "proc/", "sys/", "tmp/", "root/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: now}); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"bin/busybox", 0o755, bin},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: now}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, ModTime: now}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// importLayer streams an OCI image layout (one layer, its config, the
// manifest and an index naming ref) into `ctr images import -`.
func (c *Cluster) importLayer(ref string, open func() (io.ReadCloser, error), entrypoint []string) error {
	img := ocilayout.Image{Ref: ref, Layer: open, Arch: runtime.GOARCH, Config: ocilayout.Config{
		Entrypoint: entrypoint,
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(ocilayout.Write(pw, img)) }()
	var errb bytes.Buffer
	cmd := exec.Command("ctr", "--address", c.ctrSock, "--namespace", "k8s.io", "images", "import", "-")
	cmd.Stdin, cmd.Stderr = pr, &errb
	err := cmd.Run()
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer when ctr stopped reading early
	if err != nil {
		return fmt.Errorf("import %s: %w: %s", ref, err, strings.TrimSpace(errb.String()))
	}
	return nil
}
