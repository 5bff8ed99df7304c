package client

import (
	"context"
	"net/http"

	"github.com/hutchdev/hutch/api"
)

// Drain begins draining the server (platform admin): it refuses creates,
// starts and resumes from now on and checkpoints its running sandboxes in
// the background, to be resumed by its next start. A drain under way is
// not begun twice; DrainStatus follows it.
func (c *Client) Drain(ctx context.Context) (*api.DrainStatus, error) {
	var s api.DrainStatus
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/drain"}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DrainStatus reports the server's drain (platform admin).
func (c *Client) DrainStatus(ctx context.Context) (*api.DrainStatus, error) {
	var s api.DrainStatus
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/admin/drain"}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
