// Command buildimage writes the Hutch control plane's image as an OCI
// image layout tarball from a hutch binary, with no registry or container
// engine: scripts/build-image.sh runs it. With -rootfs it writes a
// sandbox image instead, from a root filesystem tarball (setup's offline
// base, python and node images), for a cluster without a registry.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	kubedeploy "github.com/hutchdev/hutch/deploy/kubernetes"
	"github.com/hutchdev/hutch/internal/ocilayout"
)

func main() {
	binary := flag.String("binary", "", "the static hutch binary to put in the image")
	ref := flag.String("ref", kubedeploy.ImageRef+":dev", "the image's name in the layout's index")
	out := flag.String("out", "hutch-image.tar", "the OCI image layout tarball to write")
	arch := flag.String("arch", "amd64", "GOARCH the binary was built for")
	certs := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put in the image")
	rootfs := flag.String("rootfs", "", "write a sandbox image of this root filesystem tarball instead (no -binary)")
	flag.Parse()
	var err error
	if *rootfs != "" {
		err = buildRootfs(*rootfs, *ref, *out, *arch)
	} else {
		err = build(*binary, *ref, *out, *arch, *certs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildimage:", err)
		os.Exit(1)
	}
}

func build(binary, ref, out, arch, certs string) error {
	hutch, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(certs)
	if err != nil {
		return fmt.Errorf("%w (apt-get install ca-certificates)", err)
	}
	var layer bytes.Buffer
	if err := ocilayout.WriteRootfs(&layer, kubedeploy.ImageRootfs(hutch, ca)); err != nil {
		return err
	}
	img := ocilayout.Image{Ref: ref, Arch: arch, Config: kubedeploy.ImageConfig(),
		Layer: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil }}
	return write(img, out)
}

// buildRootfs writes the sandbox image of the root filesystem tarball
// rootfs as its one layer.
func buildRootfs(rootfs, ref, out, arch string) error {
	if _, err := os.Stat(rootfs); err != nil {
		return err
	}
	img := ocilayout.Image{Ref: ref, Arch: arch, Config: ocilayout.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, WorkingDir: "/"},
		Layer: func() (io.ReadCloser, error) { return os.Open(rootfs) }}
	return write(img, out)
}

// write writes img as an OCI image layout tarball at out, whole or not at
// all, readable by all.
func write(img ocilayout.Image, out string) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".hutch-image-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := ocilayout.Write(tmp, img); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
