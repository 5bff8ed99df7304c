// Package image pulls, imports, unpacks and caches OCI images, and hands
// runtimes the unpacked layers of an image as the lower dirs of a sandbox's
// root filesystem.
package image

import "time"

// Image is an image that is unpacked in the local cache and ready to be the
// root of a sandbox.
type Image struct {
	Ref    string   // the reference it was pulled or imported as, normalised
	Digest string   // manifest digest, sha256:...
	Layers []string // absolute paths of unpacked layer dirs, lowest first
	Config Config
	Size   int64 // bytes unpacked

	// Namespace is the organisation whose own image this is; "" for a
	// shared one (see Store.In).
	Namespace string

	// CreatedAt is when the image entered this cache (pulled or imported),
	// not the build time in its config: it is what `image ls` sorts by.
	CreatedAt time.Time
}

// Config is the part of the OCI image config a runtime uses.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
}
