package kubetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
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

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// importLayer streams an OCI image layout (one layer, its config, the
// manifest and an index naming ref) into `ctr images import -`.
func (c *Cluster) importLayer(ref string, open func() (io.ReadCloser, error), entrypoint []string) error {
	layer, err := digestOf(open)
	if err != nil {
		return err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": entrypoint,
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.Digest}},
	})
	if err != nil {
		return err
	}
	layer.MediaType = "application/vnd.oci.image.layer.v1.tar"
	configDesc := blobDescriptor("application/vnd.oci.image.config.v1+json", config)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        configDesc,
		"layers":        []descriptor{layer},
	})
	if err != nil {
		return err
	}
	manifestDesc := blobDescriptor("application/vnd.oci.image.manifest.v1+json", manifest)
	manifestDesc.Annotations = map[string]string{
		"io.containerd.image.name":          ref,
		"org.opencontainers.image.ref.name": ref,
	}
	manifestDesc.Platform = &platform{Architecture: runtime.GOARCH, OS: "linux"}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []descriptor{manifestDesc}})
	if err != nil {
		return err
	}

	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeLayout(pw, index, config, configDesc, manifest, manifestDesc, layer, open))
	}()
	var errb bytes.Buffer
	cmd := exec.Command("ctr", "--address", c.ctrSock, "--namespace", "k8s.io", "images", "import", "-")
	cmd.Stdin, cmd.Stderr = pr, &errb
	err = cmd.Run()
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer when ctr stopped reading early
	if err != nil {
		return fmt.Errorf("import %s: %w: %s", ref, err, strings.TrimSpace(errb.String()))
	}
	return nil
}

func writeLayout(w io.Writer, index, config []byte, configDesc descriptor, manifest []byte, manifestDesc, layer descriptor, open func() (io.ReadCloser, error)) error {
	tw := tar.NewWriter(w)
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	blob := func(d descriptor) string { return "blobs/sha256/" + strings.TrimPrefix(d.Digest, "sha256:") }
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blob(configDesc), config},
		{blob(manifestDesc), manifest},
	} {
		if err := file(f.name, f.data); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: blob(layer), Mode: 0o644, Size: layer.Size}); err != nil {
		return err
	}
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	if n, err := io.Copy(tw, r); err != nil {
		return err
	} else if n != layer.Size {
		return fmt.Errorf("layer changed while importing (%d bytes, then %d)", layer.Size, n)
	}
	return tw.Close()
}

func digestOf(open func() (io.ReadCloser, error)) (descriptor, error) {
	r, err := open()
	if err != nil {
		return descriptor{}, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return descriptor{}, err
	}
	return descriptor{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func blobDescriptor(mediaType string, data []byte) descriptor {
	sum := sha256.Sum256(data)
	return descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
}
