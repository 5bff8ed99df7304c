package api

import "time"

// PortURLRequest is the body of POST /v1/sandboxes/{id}/ports/{port}/url.
type PortURLRequest struct {
	ExpiresInSeconds *int64 `json:"expiresInSeconds,omitempty"`
}

// PortURL is a signed link to a sandbox's port that works without an API
// key until it expires.
type PortURL struct {
	URL       string    `json:"url"`
	HostURL   string    `json:"hostUrl,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// PortPublicRequest is the body of PUT /v1/sandboxes/{id}/ports/{port}/public.
type PortPublicRequest struct {
	Public bool `json:"public"`
}
