// Package ocilayout writes an OCI image as an image layout in one tar
// stream (oci-layout, index.json, blobs/sha256/...): what `ctr images
// import` and most tools that load an image without a registry read. No
// registry is reachable on the machines Hutch is built on, so its own
// image (scripts/build-image.sh) is made this way, from a root filesystem
// tarball of one uncompressed layer.
package ocilayout

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Media types of the blobs Write makes.
const (
	MediaLayer    = "application/vnd.oci.image.layer.v1.tar"
	MediaConfig   = "application/vnd.oci.image.config.v1+json"
	MediaManifest = "application/vnd.oci.image.manifest.v1+json"
)

// Image is one single-layer image for one platform.
type Image struct {
	// Ref names the image in the index (containerd's image name
	// annotation and the OCI ref name), such as hutch.local/hutch:dev.
	Ref string
	// Layer opens the root filesystem as an uncompressed tar stream. It is
	// read twice, once for its digest and once to copy it, and must give
	// the same bytes both times.
	Layer func() (io.ReadCloser, error)
	// Arch is the GOARCH the image's binaries are built for.
	Arch string
	// Config is the runtime configuration of the image's containers.
	Config Config
}

// Config is the part of the OCI image configuration a container starts
// with (field names as in the image spec).
type Config struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

// Descriptor points at a blob (image spec descriptor).
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is the OS and architecture a manifest is for.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// ConfigFile is the image configuration blob.
type ConfigFile struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       Config `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// Manifest is the image manifest blob.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Index is index.json.
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	Manifests     []Descriptor `json:"manifests"`
}

// Write writes img as an OCI image layout tar stream to w.
func Write(w io.Writer, img Image) error {
	if img.Ref == "" || img.Layer == nil || img.Arch == "" {
		return errors.New("ocilayout: an image needs a ref, a layer and an architecture")
	}
	layer, err := digestOf(img.Layer)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	layer.MediaType = MediaLayer
	cf := ConfigFile{Architecture: img.Arch, OS: "linux", Config: img.Config}
	cf.RootFS.Type, cf.RootFS.DiffIDs = "layers", []string{layer.Digest} // uncompressed: diff id = digest
	config, err := json.Marshal(cf)
	if err != nil {
		return err
	}
	configDesc := blob(MediaConfig, config)
	manifest, err := json.Marshal(Manifest{SchemaVersion: 2, MediaType: MediaManifest, Config: configDesc, Layers: []Descriptor{layer}})
	if err != nil {
		return err
	}
	manifestDesc := blob(MediaManifest, manifest)
	manifestDesc.Annotations = map[string]string{
		"io.containerd.image.name":          img.Ref,
		"org.opencontainers.image.ref.name": img.Ref,
	}
	manifestDesc.Platform = &Platform{Architecture: img.Arch, OS: "linux"}
	index, err := json.Marshal(Index{SchemaVersion: 2, Manifests: []Descriptor{manifestDesc}})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{BlobPath(configDesc.Digest), config},
		{BlobPath(manifestDesc.Digest), manifest},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: BlobPath(layer.Digest), Mode: 0o644, Size: layer.Size}); err != nil {
		return err
	}
	r, err := img.Layer()
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(tw, r)
	if errors.Is(err, tar.ErrWriteTooLong) || err == nil && n != layer.Size {
		return fmt.Errorf("ocilayout: layer changed while writing (%d bytes, then %d or more)", layer.Size, n)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

// BlobPath is where the layout keeps the blob of digest.
func BlobPath(digest string) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

func digestOf(open func() (io.ReadCloser, error)) (Descriptor, error) {
	r, err := open()
	if err != nil {
		return Descriptor{}, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return Descriptor{}, err
	}
	return Descriptor{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func blob(mediaType string, data []byte) Descriptor {
	sum := sha256.Sum256(data)
	return Descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
}
