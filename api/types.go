// Package api holds the native HTTP contract: openapi.yaml, served at
// /v1/openapi.json, and the JSON wire types that the server and the Go SDK
// share, so that the two cannot drift apart.
package api

import "time"

// Sandbox is a sandbox as the API shows it. Env values are never echoed.
type Sandbox struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	OrganizationID     string            `json:"organizationId"`
	Image              string            `json:"image"`
	Template           string            `json:"template,omitempty"`
	Entrypoint         []string          `json:"entrypoint,omitempty"`
	State              string            `json:"state"`
	DesiredState       string            `json:"desiredState"`
	StateReason        string            `json:"stateReason"`
	Metadata           map[string]string `json:"metadata"`
	Resources          Resources         `json:"resources"`
	Network            Network           `json:"network"`
	TimeoutSeconds     *int64            `json:"timeoutSeconds"`
	ExpiresAt          *time.Time        `json:"expiresAt"`
	AutoStopMinutes    int               `json:"autoStopMinutes"`
	AutoPauseMinutes   int               `json:"autoPauseMinutes"`
	AutoArchiveMinutes int               `json:"autoArchiveMinutes"`
	AutoDeleteMinutes  int               `json:"autoDeleteMinutes"`
	AutoResume         bool              `json:"autoResume"`
	// Runtime is the driver the sandbox runs on: "oci" or "gvisor".
	Runtime string `json:"runtime"`
	// Pause is where a paused sandbox's memory is; absent in other states.
	Pause *PauseInfo `json:"pause,omitempty"`
	// PauseReleaseAfterSeconds is the sandbox's own delay before the
	// tiered pause moves it from memory to disk (0: never); null follows
	// the organisation's or the server's default.
	PauseReleaseAfterSeconds *int64     `json:"pauseReleaseAfterSeconds"`
	CreatedAt                time.Time  `json:"createdAt"`
	UpdatedAt                time.Time  `json:"updatedAt"`
	StartedAt                *time.Time `json:"startedAt"`
	LastActivityAt           time.Time  `json:"lastActivityAt"`
}

// Resources are a sandbox's limits.
type Resources struct {
	CPU      float64 `json:"cpu"`
	MemoryMB int64   `json:"memoryMB"`
	DiskMB   int64   `json:"diskMB"`
	Pids     int64   `json:"pids"`
}

// Network is a sandbox's network policy.
type Network struct {
	Internet    bool     `json:"internet"`
	AllowCIDRs  []string `json:"allowCIDRs"`
	DenyCIDRs   []string `json:"denyCIDRs"`
	PublicPorts []int    `json:"publicPorts"`
}

// CreateSandboxRequest is the body of POST /v1/sandboxes. Pointers tell an
// absent field (server default) from an explicit zero.
type CreateSandboxRequest struct {
	Name               string            `json:"name,omitempty"`
	Image              string            `json:"image,omitempty"`
	Template           string            `json:"template,omitempty"`
	Entrypoint         []string          `json:"entrypoint,omitempty"`
	Env                map[string]string `json:"env,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	Resources          *ResourcesRequest `json:"resources,omitempty"`
	TimeoutSeconds     *int64            `json:"timeoutSeconds,omitempty"`
	AutoStopMinutes    *int              `json:"autoStopMinutes,omitempty"`
	AutoPauseMinutes   *int              `json:"autoPauseMinutes,omitempty"`
	AutoArchiveMinutes *int              `json:"autoArchiveMinutes,omitempty"`
	AutoDeleteMinutes  *int              `json:"autoDeleteMinutes,omitempty"`
	Network            *NetworkRequest   `json:"network,omitempty"`
	AutoResume         *bool             `json:"autoResume,omitempty"`
	// Runtime chooses the sandbox's driver among Info.Runtimes; empty
	// takes the organisation's defaultRuntime, else the server's
	// (Info.DefaultRuntime).
	Runtime string `json:"runtime,omitempty"`
	// PauseReleaseAfterSeconds: see Sandbox.
	PauseReleaseAfterSeconds *int64 `json:"pauseReleaseAfterSeconds,omitempty"`
	// Pool false boots the sandbox even when a warm pool could serve the
	// create (Info.Pools); absent or true lets a pool serve it.
	Pool *bool `json:"pool,omitempty"`
}

// PauseInfo is the memory of a paused sandbox: "resident" (frozen in
// RAM) or "on-disk" (checkpointed, RAM released), since when, the size of
// the image on disk, and when the tiered pause moves it to disk (null:
// never).
type PauseInfo struct {
	Memory    string     `json:"memory"`
	Since     time.Time  `json:"since"`
	SizeBytes int64      `json:"sizeBytes"`
	ReleaseAt *time.Time `json:"releaseAt"`
}

// PauseRequest is the optional body of POST /v1/sandboxes/{id}/pause:
// memory "keep" freezes the sandbox in RAM, "release" checkpoints it to
// disk and frees its RAM; absent takes the organisation's or the server's
// default. A release of a sandbox paused in memory moves it to disk.
type PauseRequest struct {
	Memory string `json:"memory,omitempty"`
}

// ResourcesRequest asks for limits; absent fields take server defaults.
type ResourcesRequest struct {
	CPU      *float64 `json:"cpu,omitempty"`
	MemoryMB *int64   `json:"memoryMB,omitempty"`
	DiskMB   *int64   `json:"diskMB,omitempty"`
	Pids     *int64   `json:"pids,omitempty"`
}

// NetworkRequest asks for a network policy; internet defaults to true.
type NetworkRequest struct {
	Internet   *bool    `json:"internet,omitempty"`
	AllowCIDRs []string `json:"allowCIDRs,omitempty"`
	DenyCIDRs  []string `json:"denyCIDRs,omitempty"`
}

// SandboxList is the body of GET /v1/sandboxes.
type SandboxList struct {
	Items      []Sandbox  `json:"items"`
	Pagination Pagination `json:"pagination"`
}

// Pagination describes one page of a list.
type Pagination struct {
	Page        int  `json:"page"`
	PageSize    int  `json:"pageSize"`
	TotalItems  int  `json:"totalItems"`
	TotalPages  int  `json:"totalPages"`
	HasNextPage bool `json:"hasNextPage"`
}

// Event is one entry of a sandbox's event log.
type Event struct {
	ID        int64     `json:"id"`
	SandboxID string    `json:"sandboxId"`
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	From      string    `json:"from,omitempty"`
	To        string    `json:"to,omitempty"`
	Cause     string    `json:"cause"`
	Message   string    `json:"message,omitempty"`
}

// EventList is the body of GET /v1/sandboxes/{id}/events.
type EventList struct {
	Items []Event `json:"items"`
}

// RenewExpirationRequest is the body of POST .../renew-expiration.
type RenewExpirationRequest struct {
	ExpiresAt string `json:"expiresAt"` // RFC 3339
}

// SetTimeoutRequest is the body of PUT .../timeout; null removes the expiry.
type SetTimeoutRequest struct {
	TimeoutSeconds *int64 `json:"timeoutSeconds"`
}

// Info is the body of GET /v1/info.
type Info struct {
	Version      string       `json:"version"`
	Runtime      string       `json:"runtime"`
	Capabilities Capabilities `json:"capabilities"`
	// RateLimits are the limits of the caller's organisation; absent when
	// the server enforces none.
	RateLimits *RateLimitPair `json:"rateLimits,omitempty"`
	// Runtimes are those a sandbox may choose at create, each with what
	// it can do; DefaultRuntime is the one a create without a choice gets.
	Runtimes       []RuntimeInfo `json:"runtimes"`
	DefaultRuntime string        `json:"defaultRuntime"`
	// Pools are the warm pools of prepared sandboxes this server keeps;
	// empty when it keeps none.
	Pools []PoolInfo `json:"pools"`
}

// PoolInfo is one warm pool: creates of its image on its runtime, with
// the server's default disk size, take a prepared sandbox from it.
type PoolInfo struct {
	Image   string `json:"image"`
	Runtime string `json:"runtime"`
	// Size is how many the server keeps prepared, Ready how many are.
	Size  int `json:"size"`
	Ready int `json:"ready"`
}

// RuntimeInfo is one runtime a sandbox may run on.
type RuntimeInfo struct {
	Name         string       `json:"name"`
	Driver       string       `json:"driver"`
	Capabilities Capabilities `json:"capabilities"`
}

// Capabilities mirrors the runtime's optional features.
type Capabilities struct {
	Pause   bool `json:"pause"`
	Archive bool `json:"archive"`
	// Network says each sandbox's reach is enforced (without internet
	// access it has only its loopback) and can change while it runs.
	Network bool `json:"network"`
	// Ports says the port proxy reaches servers in the sandboxes.
	Ports     bool `json:"ports"`
	DiskLimit bool `json:"diskLimit"`
	// Agent says the sandboxes run the agent (exec, files, terminals,
	// code contexts); without it those routes answer 501.
	Agent bool `json:"agent"`
	// Checkpoint says a pause can release memory (memory "release").
	Checkpoint bool `json:"checkpoint"`
}
