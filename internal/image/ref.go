package image

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// dockerHub is how references to Docker Hub are written in the index and
// shown to users; go-containerregistry calls the same registry
// index.docker.io.
const dockerHub = "docker.io"

// Normalize returns the reference Pull stores an image under, the way Docker
// writes it: "busybox" -> "docker.io/library/busybox:latest",
// "ghcr.io/x/y" -> "ghcr.io/x/y:latest", digests kept as "repo@sha256:...".
//
// Images imported from a tarball under a name with no registry domain (no
// "." or ":" in the first path component and not "localhost") are local
// images instead: they are stored as "name:tag" ("base" -> "base:latest"),
// and Resolve looks an unqualified name up as a local image first and on
// Docker Hub second. That keeps the offline images ("base", "python") apart
// from Docker Hub's images of the same name: a pull never overwrites them,
// and "python:3.12" still means Docker Hub's image unless one was imported
// under that name.
func Normalize(ref string) (string, error) {
	r, err := parseRemote(ref)
	if err != nil {
		return "", err
	}
	return remoteKey(r), nil
}

// parseRemote parses ref as a registry reference. Registries on loopback
// are spoken to over plain HTTP (the parser's rule), all others over HTTPS.
func parseRemote(ref string) (name.Reference, error) {
	r, err := name.ParseReference(strings.TrimSpace(ref))
	if err != nil {
		return nil, fmt.Errorf("image %q: %w: %v", ref, errdefs.ErrInvalidArgument, err)
	}
	if !validHost(r.Context().RegistryStr()) {
		return nil, fmt.Errorf("image %q: %w: %q is not a registry host", ref, errdefs.ErrInvalidArgument, r.Context().RegistryStr())
	}
	return r, nil
}

// validHost checks a registry's host[:port] more strictly than the
// parser does, which takes ".." for a host: labels of letters, digits and
// inner hyphens, none empty, and an optional numeric port.
func validHost(hostport string) bool {
	host, port, hasPort := strings.Cut(hostport, ":")
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// remoteKey is the index key of a registry reference.
func remoteKey(r name.Reference) string {
	repo := r.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = dockerHub
	}
	return reg + "/" + repo.RepositoryStr() + separator(r) + r.Identifier()
}

func separator(r name.Reference) string {
	if _, ok := r.(name.Digest); ok {
		return "@"
	}
	return ":"
}

// hasDomain reports whether ref names a registry, by Docker's rule: the
// first path component contains "." or ":" or is "localhost".
func hasDomain(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && (first == "localhost" || strings.ContainsAny(first, ".:"))
}

// localKey is the index key of a local (imported, domain-less) reference, or
// "" when ref names a registry.
func localKey(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if hasDomain(ref) {
		return "", nil
	}
	r, err := parseRemote(ref)
	if err != nil {
		return "", err
	}
	repo := ref
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	return repo + separator(r) + r.Identifier(), nil
}

// storeKey is the key an image imported as ref is stored under.
func storeKey(ref string) (string, error) {
	if k, err := localKey(ref); err != nil || k != "" {
		return k, err
	}
	return Normalize(ref)
}

// lookupKeys are the index keys Resolve tries for ref, in order.
func lookupKeys(ref string) ([]string, error) {
	var keys []string
	local, err := localKey(ref)
	if err != nil {
		return nil, err
	}
	if local != "" {
		keys = append(keys, local)
	}
	remote, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	return append(keys, remote), nil
}

// Key is the index key an image imported as ref is stored under ("base"
// and "base:latest" are both "base:latest"), for callers that must tell
// whether two references name the same image.
func Key(ref string) (string, error) { return storeKey(ref) }
