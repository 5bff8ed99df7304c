package api

import "time"

// Image is an image in the server's local cache.
type Image struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	// Shared is true for an image every organisation sees (seeded, or
	// imported or pulled by the platform admin), false for one of the
	// caller's organisation's own.
	Shared    bool      `json:"shared"`
	Size      int64     `json:"size"` // bytes unpacked
	Layers    int       `json:"layers"`
	CreatedAt time.Time `json:"createdAt"`
}

// ImageList is the body of GET /v1/images.
type ImageList struct {
	Items []Image `json:"items"`
}

// PullImageRequest is the body of POST /v1/images/pull. Username and
// Password are used for registries that need basic auth and never stored.
type PullImageRequest struct {
	Ref      string `json:"ref"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// ImageProgress is one line of the newline-delimited JSON stream that
// POST /v1/images/pull and POST /v1/images/import send while they work. The
// last line carries either Image (success) or Error.
type ImageProgress struct {
	Status  string       `json:"status"`            // resolving, downloading, unpacking, done, error
	Layer   string       `json:"layer,omitempty"`   // digest of the layer in progress
	Current int64        `json:"current,omitempty"` // bytes done for this layer
	Total   int64        `json:"total,omitempty"`   // bytes in this layer
	Image   *Image       `json:"image,omitempty"`
	Error   *ErrorDetail `json:"error,omitempty"`
}
