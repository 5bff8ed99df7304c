package e2b

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// resolveTemplate maps an E2B template to a Hutch image in the server's
// cache: "base" is the image imported as base. A name that is not an
// image reference is E2B's 400, one that is not cached its 404 (Hutch
// does not build templates; import or pull the image first).
func (f *face) resolveTemplate(r *http.Request, templateID string) (string, error) {
	want, err := image.Normalize(templateID)
	if err != nil {
		return "", errdefs.InvalidField("templateID", "%q is not a template name or image reference", templateID)
	}
	imgs, err := f.Sandboxes.Images().List(r.Context(), orgOf(r))
	if errors.Is(err, errdefs.ErrUnavailable) {
		return templateID, nil // no image store: the runtime resolves it
	}
	if err != nil {
		return "", err
	}
	for _, img := range imgs {
		if img.Ref == templateID || img.Ref == templateID+":latest" || img.Ref == want {
			return templateID, nil
		}
		if n, err := image.Normalize(img.Ref); err == nil && n == want {
			return templateID, nil
		}
	}
	return "", fmt.Errorf("template %q not found (no such image on this server): %w", templateID, errdefs.ErrNotFound)
}

// templateJSON is E2B's Template for an image of the cache. Hutch builds
// no templates: each cached image is one, ready, built once.
type templateJSON struct {
	TemplateID    string     `json:"templateID"`
	BuildID       string     `json:"buildID"`
	CPUCount      int        `json:"cpuCount"`
	MemoryMB      int64      `json:"memoryMB"`
	DiskSizeMB    int64      `json:"diskSizeMB"`
	Public        bool       `json:"public"`
	Aliases       []string   `json:"aliases"`
	Names         []string   `json:"names"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	CreatedBy     *struct{}  `json:"createdBy"`
	LastSpawnedAt *time.Time `json:"lastSpawnedAt"`
	SpawnCount    int64      `json:"spawnCount"`
	BuildCount    int        `json:"buildCount"`
	EnvdVersion   string     `json:"envdVersion"`
	BuildStatus   string     `json:"buildStatus"`
}

// templates lists the image cache as E2B templates. Resources are those a
// sandbox gets by default; spawnCount is not counted (0) and lastSpawnedAt
// not kept (null).
func (f *face) templates(w http.ResponseWriter, r *http.Request) error {
	imgs, err := f.Sandboxes.Images().List(r.Context(), orgOf(r))
	if err != nil {
		return err
	}
	def := f.Sandboxes.DefaultResources()
	out := make([]templateJSON, 0, len(imgs))
	for _, img := range imgs {
		name := strings.TrimSuffix(img.Ref, ":latest")
		out = append(out, templateJSON{TemplateID: name, BuildID: img.Digest, CPUCount: cpuCount(def.CPU),
			MemoryMB: def.MemoryMB, DiskSizeMB: def.DiskMB, Public: true, Aliases: []string{name}, Names: []string{name},
			CreatedAt: img.CreatedAt.UTC(), UpdatedAt: img.CreatedAt.UTC(), BuildCount: 1, EnvdVersion: envdVersion,
			BuildStatus: "ready"})
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// templateAlias answers whether a template (an image of the cache) has
// that name: E2B's TemplateAliasResponse, or its 404.
func (f *face) templateAlias(w http.ResponseWriter, r *http.Request) error {
	alias := r.PathValue("alias")
	if _, err := f.resolveTemplate(r, alias); err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"templateID": alias, "public": true})
	return nil
}
