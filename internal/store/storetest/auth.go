package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/store"
)

// authTests cover organisations and API keys.
var authTests = []test{
	{"Organizations", testOrganizations},
	{"APIKeys", testAPIKeys},
}

func mustOrg(t *testing.T, s store.Store, name string) *auth.Organization {
	t.Helper()
	org := &auth.Organization{ID: newOrg(), Name: name, CreatedAt: now()}
	if err := s.CreateOrganization(context.Background(), org); err != nil {
		t.Fatalf("CreateOrganization: %v", err)
	}
	return org
}

func newKey(org string, admin bool) (*auth.APIKey, string) {
	secret := auth.NewSecret()
	return &auth.APIKey{
		ID:             ids.New("key_"),
		OrganizationID: org,
		Name:           "ci",
		Hash:           auth.Hash(secret),
		Prefix:         secret[:8],
		Admin:          admin,
		CreatedAt:      now(),
	}, secret
}

func testOrganizations(t *testing.T, s store.Store) {
	ctx := context.Background()
	if n, err := s.CountOrganizations(ctx); err != nil || n != 0 {
		t.Fatalf("CountOrganizations on an empty store = %d, %v", n, err)
	}
	acme := mustOrg(t, s, "acme")
	mustOrg(t, s, "globex")
	if n, err := s.CountOrganizations(ctx); err != nil || n != 2 {
		t.Fatalf("CountOrganizations = %d, %v; want 2", n, err)
	}

	got, err := s.GetOrganization(ctx, acme.ID)
	if err != nil {
		t.Fatalf("GetOrganization: %v", err)
	}
	if got.ID != acme.ID || got.Name != "acme" || !got.CreatedAt.Equal(acme.CreatedAt) {
		t.Fatalf("GetOrganization = %+v, want %+v", got, acme)
	}
	_, err = s.GetOrganization(ctx, "org_nope")
	wantErr(t, "unknown organization", err, errdefs.ErrNotFound)

	dup := &auth.Organization{ID: acme.ID, Name: "again"}
	wantErr(t, "duplicate organization", s.CreateOrganization(ctx, dup), errdefs.ErrAlreadyExists)
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	key, secret := newKey(a.ID, true)
	if err := s.CreateAPIKey(ctx, key); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	other, _ := newKey(a.ID, false)
	other.CreatedAt = key.CreatedAt.Add(time.Second)
	if err := s.CreateAPIKey(ctx, other); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}

	got, err := s.GetAPIKeyByHash(ctx, auth.Hash(secret))
	if err != nil {
		t.Fatalf("GetAPIKeyByHash: %v", err)
	}
	if got.ID != key.ID || got.OrganizationID != a.ID || got.Name != "ci" || got.Hash != key.Hash ||
		got.Prefix != key.Prefix || !got.Admin || !got.CreatedAt.Equal(key.CreatedAt) || got.RevokedAt != nil {
		t.Fatalf("GetAPIKeyByHash = %+v, want %+v", got, key)
	}
	_, err = s.GetAPIKeyByHash(ctx, auth.Hash("hk_wrong"))
	wantErr(t, "unknown hash", err, errdefs.ErrNotFound)

	sameHash, _ := newKey(b.ID, false)
	sameHash.Hash = key.Hash
	wantErr(t, "duplicate hash", s.CreateAPIKey(ctx, sameHash), errdefs.ErrAlreadyExists)

	orphan, _ := newKey("org_nope", false)
	wantErr(t, "key of an unknown organization", s.CreateAPIKey(ctx, orphan), errdefs.ErrNotFound)

	// Another organisation cannot revoke the key, and cannot tell it exists.
	at := now()
	wantErr(t, "revoke from another org", s.RevokeAPIKey(ctx, b.ID, key.ID, at), errdefs.ErrNotFound)
	wantErr(t, "revoke unknown key", s.RevokeAPIKey(ctx, a.ID, "key_nope", at), errdefs.ErrNotFound)
	if _, err := s.GetAPIKeyByHash(ctx, key.Hash); err != nil {
		t.Fatalf("key refused after another org's revoke: %v", err)
	}

	if err := s.RevokeAPIKey(ctx, a.ID, key.ID, at); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	_, err = s.GetAPIKeyByHash(ctx, key.Hash)
	wantErr(t, "revoked key", err, errdefs.ErrNotFound)
	// Revoking again is harmless; the other key still works.
	if err := s.RevokeAPIKey(ctx, a.ID, key.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("second RevokeAPIKey: %v", err)
	}
	if got, err := s.GetAPIKeyByHash(ctx, other.Hash); err != nil || got.ID != other.ID || got.Admin {
		t.Fatalf("unrevoked key = %+v, %v", got, err)
	}

	// The list shows both keys, oldest first, the revoked one with its
	// first revocation time; another organisation's list is empty.
	keys, err := s.ListAPIKeys(ctx, a.ID)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListAPIKeys = %+v, %v; want 2 keys", keys, err)
	}
	if keys[0].ID != key.ID || keys[0].RevokedAt == nil || !keys[0].RevokedAt.Equal(at) ||
		keys[1].ID != other.ID || keys[1].RevokedAt != nil {
		t.Fatalf("ListAPIKeys = %+v, %+v; want %s revoked at %v, then %s", *keys[0], *keys[1], key.ID, at, other.ID)
	}
	if keys, err := s.ListAPIKeys(ctx, b.ID); err != nil || len(keys) != 0 {
		t.Fatalf("other org's ListAPIKeys = %+v, %v; want none", keys, err)
	}
}
