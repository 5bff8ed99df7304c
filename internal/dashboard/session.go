package dashboard

import (
	"net/http"

	"github.com/hutchdev/hutch/internal/gateway"
)

// Session is who the caller's key belongs to: the page signs in with it
// (a wrong key is the API's own 401) and shows the pages the key may use.
type Session struct {
	OrganizationID string `json:"organizationId"`
	KeyID          string `json:"keyId"`
	Admin          bool   `json:"admin"`
	PlatformAdmin  bool   `json:"platformAdmin"`
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) error {
	p := gateway.Principal(r.Context())
	writeJSON(w, http.StatusOK, Session{OrganizationID: p.OrganizationID, KeyID: p.KeyID, Admin: p.Admin, PlatformAdmin: p.PlatformAdmin()})
	return nil
}
