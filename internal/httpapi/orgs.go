package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
)

func (s *Server) createOrganization(w http.ResponseWriter, r *http.Request) error {
	if !principal(r.Context()).PlatformAdmin() {
		return fmt.Errorf("only an admin key of the default organization can create organizations: %w", errdefs.ErrForbidden)
	}
	var req api.CreateOrganizationRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	org, secret, err := auth.CreateOrganization(r.Context(), s.Auth, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.Organization{ID: org.ID, Name: org.Name, APIKey: secret})
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	if err := requireAdmin(p); err != nil {
		return err
	}
	keys, err := s.Auth.ListAPIKeys(r.Context(), p.OrganizationID)
	if err != nil {
		return err
	}
	out := api.APIKeyList{Items: make([]api.APIKey, 0, len(keys))}
	for _, k := range keys {
		out.Items = append(out.Items, keyToAPI(k, ""))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	if err := requireAdmin(p); err != nil {
		return err
	}
	var req api.CreateAPIKeyRequest
	if err := decode(w, r, &req, true); err != nil {
		return err
	}
	k, secret, err := auth.CreateKey(r.Context(), s.Auth, p.OrganizationID, req.Name, req.Admin)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, keyToAPI(k, secret))
	return nil
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	if err := requireAdmin(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.Auth.RevokeAPIKey(r.Context(), p.OrganizationID, id, time.Now().UTC()); err != nil {
		return err
	}
	// The store no longer verifies the key; end what it already opened.
	gateway.Revoked(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func keyToAPI(k *auth.APIKey, secret string) api.APIKey {
	return api.APIKey{ID: k.ID, OrganizationID: k.OrganizationID, Name: k.Name, Prefix: k.Prefix,
		Admin: k.Admin, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, APIKey: secret}
}
