package api

import "time"

// CreateOrganizationRequest is the body of POST /v1/organizations.
type CreateOrganizationRequest struct {
	Name string `json:"name"`
}

// Organization is returned once, with its first (admin) key.
type Organization struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	APIKey string `json:"apiKey,omitempty"`
}

// CreateAPIKeyRequest is the body of POST /v1/api-keys.
type CreateAPIKeyRequest struct {
	Name  string `json:"name,omitempty"`
	Admin bool   `json:"admin,omitempty"`
}

// APIKey describes a key; APIKey (the secret) is only set when created.
type APIKey struct {
	ID             string     `json:"id"`
	OrganizationID string     `json:"organizationId"`
	Name           string     `json:"name"`
	Prefix         string     `json:"prefix"`
	Admin          bool       `json:"admin"`
	CreatedAt      time.Time  `json:"createdAt"`
	RevokedAt      *time.Time `json:"revokedAt,omitempty"`
	APIKey         string     `json:"apiKey,omitempty"`
}

// APIKeyList is the body of GET /v1/api-keys; secrets are never included.
type APIKeyList struct {
	Items []APIKey `json:"items"`
}

// OrganizationSettings is the body of GET and PATCH
// /v1/organization/settings: the caller's organisation's defaults for new
// sandboxes. null means the server's default. PATCH is a merge patch:
// absent fields are kept, null clears one.
type OrganizationSettings struct {
	DefaultTimeoutSeconds     *int64 `json:"defaultTimeoutSeconds"`
	DefaultAutoStopMinutes    *int   `json:"defaultAutoStopMinutes"`
	DefaultAutoPauseMinutes   *int   `json:"defaultAutoPauseMinutes"`
	DefaultAutoArchiveMinutes *int   `json:"defaultAutoArchiveMinutes"`
	DefaultAutoDeleteMinutes  *int   `json:"defaultAutoDeleteMinutes"`
	// DefaultPauseMemory is "keep" or "release", the memory mode of a
	// pause that names none.
	DefaultPauseMemory *string `json:"defaultPauseMemory"`
	// PauseReleaseAfterSeconds is the tiered pause's delay for the
	// organisation's sandboxes (0: never).
	PauseReleaseAfterSeconds *int64 `json:"pauseReleaseAfterSeconds"`
	// DefaultRuntime is the runtime of a create that names none, one of
	// Info.Runtimes; null takes the server's (Info.DefaultRuntime).
	DefaultRuntime *string `json:"defaultRuntime"`
	// UsePools false makes the organisation's creates boot cold, as if
	// each asked "pool": false; null (or true) lets warm pools serve them.
	UsePools  *bool      `json:"usePools"`
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
}

// QuotaLimits is the body of PUT /v1/organizations/{id}/quotas and what
// was set: caps on what one organisation's sandboxes hold together (every
// sandbox not deleted). null takes the server's default; -1 is no limit.
type QuotaLimits struct {
	Sandboxes *int64   `json:"sandboxes"`
	CPU       *float64 `json:"cpu"`
	MemoryMB  *int64   `json:"memoryMB"`
	DiskMB    *int64   `json:"diskMB"`
	// ImageMaxCompressedMB and ImageMaxUnpackedMB bound each image import
	// or pull the organisation makes (at least 1); null keeps the
	// server's --image-max-*-mb, and where both are set the smaller
	// applies.
	ImageMaxCompressedMB *int64 `json:"imageMaxCompressedMB"`
	ImageMaxUnpackedMB   *int64 `json:"imageMaxUnpackedMB"`
}

// ResourceTotals are amounts of an organisation's sandboxes together: a
// quota in force (-1: no limit) or what they hold now.
type ResourceTotals struct {
	Sandboxes int64   `json:"sandboxes"`
	CPU       float64 `json:"cpu"`
	MemoryMB  int64   `json:"memoryMB"`
	DiskMB    int64   `json:"diskMB"`
}

// OrganizationQuotas is the body of GET and PUT
// /v1/organizations/{id}/quotas: what the platform admin set, what
// applies (set over the server's defaults) and what is in use.
type OrganizationQuotas struct {
	OrganizationID string         `json:"organizationId"`
	Set            QuotaLimits    `json:"set"`
	Effective      ResourceTotals `json:"effective"`
	Usage          ResourceTotals `json:"usage"`
	UpdatedAt      *time.Time     `json:"updatedAt,omitempty"`
}
