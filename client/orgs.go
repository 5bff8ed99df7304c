package client

import (
	"context"
	"io"
	"net/http"

	"github.com/hutchdev/hutch/api"
)

// Health returns nil when the server answers /healthz, for readiness
// checks in scripts and tests; it needs no API key.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: "/healthz"}, nil)
}

// OpenAPI returns the server's OpenAPI document as JSON, so that tools can
// check which API the server they talk to actually speaks.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/openapi.json"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Info returns the server's version and its runtime's capabilities.
func (c *Client) Info(ctx context.Context) (*api.Info, error) {
	var info api.Info
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/info"}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// CreateOrganization creates an organisation; it needs the platform-admin
// key. The result's APIKey is the new organisation's first admin key,
// shown only this once.
func (c *Client) CreateOrganization(ctx context.Context, req api.CreateOrganizationRequest) (*api.Organization, error) {
	var org api.Organization
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/organizations", body: req}, &org); err != nil {
		return nil, err
	}
	return &org, nil
}

// CreateAPIKey creates a key in the caller's organisation; it needs an
// admin key. The result's APIKey is the secret, shown only this once.
func (c *Client) CreateAPIKey(ctx context.Context, req api.CreateAPIKeyRequest) (*api.APIKey, error) {
	var key api.APIKey
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/api-keys", body: req}, &key); err != nil {
		return nil, err
	}
	return &key, nil
}

// ListAPIKeys returns the organisation's keys, without their secrets.
func (c *Client) ListAPIKeys(ctx context.Context) ([]api.APIKey, error) {
	var list api.APIKeyList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/api-keys"}, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// RevokeAPIKey revokes a key by ID; it needs an admin key.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	if err := checkID("key", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: pathf("/v1/api-keys/%s", id)}, nil)
}
