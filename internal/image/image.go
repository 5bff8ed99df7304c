// Package image pulls, imports, unpacks and caches OCI images, and hands
// runtimes the unpacked layers of an image as the lower dirs of a sandbox's
// root filesystem.
package image

// Image is an image that is unpacked in the local cache and ready to be the
// root of a sandbox.
type Image struct {
	Ref    string   // the reference it was pulled or imported as, normalised
	Digest string   // manifest digest, sha256:...
	Layers []string // absolute paths of unpacked layer dirs, lowest first
	Config Config
	Size   int64 // bytes unpacked
}

// Config is the part of the OCI image config a runtime uses.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
}
