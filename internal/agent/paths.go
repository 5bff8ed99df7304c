package agent

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// resolve validates the path in field and makes it absolute. A relative
// path starts at the agent's working directory (the image's WorkingDir).
// A ".." that would climb above "/" is refused rather than silently
// clamped, so that a caller who meant to escape learns it did not work.
//
// Symlinks need no check here: the agent lives in the sandbox's mount
// namespace and root, where even an absolute link naming a host path
// resolves inside the sandbox.
func resolve(field, p string) (string, error) {
	if p == "" {
		return "", errdefs.InvalidField(field, "is required")
	}
	if strings.ContainsRune(p, 0) {
		return "", errdefs.InvalidField(field, "must not contain NUL")
	}
	if !filepath.IsAbs(p) {
		p = workdir() + "/" + p // not Join: it would clamp the climb checked below
	}
	depth := 0
	for _, el := range strings.Split(p, "/") {
		switch el {
		case "", ".":
		case "..":
			if depth == 0 {
				return "", errdefs.InvalidField(field, "%q climbs above the sandbox root", p)
			}
			depth--
		default:
			depth++
		}
	}
	return filepath.Clean(p), nil
}

// workdir is where relative paths and commands without a cwd start.
func workdir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "/"
	}
	return wd
}
