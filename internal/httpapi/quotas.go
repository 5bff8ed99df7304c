package httpapi

import (
	"fmt"
	"net/http"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// registerQuotas adds the organisations' quota routes: any key reads its
// own organisation's, the platform admin reads and sets every one's.
func (s *Server) registerQuotas() {
	s.handle("GET", "/v1/organizations/{id}/quotas", s.authenticated(s.getQuotas))
	s.handle("PUT", "/v1/organizations/{id}/quotas", s.authenticated(s.putQuotas))
}

func (s *Server) getQuotas(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	id := r.PathValue("id")
	st, err := s.Sandboxes.Quota(r.Context(), p, id)
	if err != nil {
		return err
	}
	if _, err := s.Auth.GetOrganization(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, quotasToAPI(id, st))
	return nil
}

func (s *Server) putQuotas(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	id := r.PathValue("id")
	// SetQuota holds the rule; asking first keeps an organisation's
	// existence from anyone else.
	if !p.PlatformAdmin() {
		return fmt.Errorf("only the platform admin (an admin key of the default organization) sets quotas: %w", errdefs.ErrForbidden)
	}
	if _, err := s.Auth.GetOrganization(r.Context(), id); err != nil {
		return err
	}
	var req api.QuotaLimits
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	q := &sandbox.OrgQuota{OrganizationID: id, Sandboxes: req.Sandboxes, CPU: req.CPU, MemoryMB: req.MemoryMB, DiskMB: req.DiskMB,
		ImageMaxCompressedMB: req.ImageMaxCompressedMB, ImageMaxUnpackedMB: req.ImageMaxUnpackedMB}
	if err := s.Sandboxes.SetQuota(r.Context(), p, q); err != nil {
		return err
	}
	st, err := s.Sandboxes.Quota(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, quotasToAPI(id, st))
	return nil
}

func quotasToAPI(id string, st *sandbox.QuotaStatus) api.OrganizationQuotas {
	e, u := st.Effective, st.Usage
	out := api.OrganizationQuotas{
		OrganizationID: id,
		Set: api.QuotaLimits{Sandboxes: st.Set.Sandboxes, CPU: st.Set.CPU, MemoryMB: st.Set.MemoryMB, DiskMB: st.Set.DiskMB,
			ImageMaxCompressedMB: st.Set.ImageMaxCompressedMB, ImageMaxUnpackedMB: st.Set.ImageMaxUnpackedMB},
		Effective: api.ResourceTotals{Sandboxes: e.Sandboxes, CPU: e.CPU, MemoryMB: e.MemoryMB, DiskMB: e.DiskMB},
		Usage:     api.ResourceTotals{Sandboxes: u.Sandboxes, CPU: u.CPU, MemoryMB: u.MemoryMB, DiskMB: u.DiskMB},
	}
	if !st.Set.UpdatedAt.IsZero() {
		t := st.Set.UpdatedAt
		out.UpdatedAt = &t
	}
	return out
}
