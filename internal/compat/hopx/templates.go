package hopx

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/image"
)

// templateBody is HopX's template: here, an image in the server's cache.
type templateBody struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	IsActive    bool      `json:"is_active"`
	IsPublic    bool      `json:"is_public"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	RequestID   string    `json:"request_id,omitempty"`
}

func templateOf(img *image.Image) templateBody {
	return templateBody{ID: img.Ref, Object: "template", Name: img.Ref, DisplayName: img.Ref,
		Description: fmt.Sprintf("image %s (%s)", img.Ref, img.Digest), Status: "active", IsActive: true, IsPublic: true,
		CreatedAt: img.CreatedAt, UpdatedAt: img.CreatedAt}
}

func (f *face) listTemplates(w http.ResponseWriter, r *http.Request) error {
	imgs, err := f.Sandboxes.Images().List(r.Context(), gateway.Principal(r.Context()).OrganizationID)
	if err != nil {
		return err
	}
	out := struct {
		Object    string         `json:"object"`
		Data      []templateBody `json:"data"`
		HasMore   bool           `json:"has_more"`
		URL       string         `json:"url"`
		RequestID string         `json:"request_id"`
	}{Object: "list", Data: []templateBody{}, URL: "/v1/templates", RequestID: gateway.RequestID(r.Context())}
	for _, img := range imgs {
		out.Data = append(out.Data, templateOf(img))
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (f *face) getTemplate(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	ref := name
	if img, ok := templates[name]; ok {
		ref = img
	}
	imgs, err := f.Sandboxes.Images().List(r.Context(), gateway.Principal(r.Context()).OrganizationID)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if img.Ref == ref || img.Ref == ref+":latest" {
			t := templateOf(img)
			t.RequestID = gateway.RequestID(r.Context())
			compat.WriteJSON(w, http.StatusOK, t)
			return nil
		}
	}
	return fmt.Errorf("template %q not found: %w", name, errdefs.ErrNotFound)
}
