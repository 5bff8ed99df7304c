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
	AutoArchiveMinutes int               `json:"autoArchiveMinutes"`
	AutoDeleteMinutes  int               `json:"autoDeleteMinutes"`
	AutoResume         bool              `json:"autoResume"`
	CreatedAt          time.Time         `json:"createdAt"`
	UpdatedAt          time.Time         `json:"updatedAt"`
	StartedAt          *time.Time        `json:"startedAt"`
	LastActivityAt     time.Time         `json:"lastActivityAt"`
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
	AutoArchiveMinutes *int              `json:"autoArchiveMinutes,omitempty"`
	AutoDeleteMinutes  *int              `json:"autoDeleteMinutes,omitempty"`
	Network            *NetworkRequest   `json:"network,omitempty"`
	AutoResume         *bool             `json:"autoResume,omitempty"`
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

// Info is the body of GET /v1/info.
type Info struct {
	Version      string       `json:"version"`
	Runtime      string       `json:"runtime"`
	Capabilities Capabilities `json:"capabilities"`
}

// Capabilities mirrors the runtime's optional features.
type Capabilities struct {
	Pause     bool `json:"pause"`
	Archive   bool `json:"archive"`
	Network   bool `json:"network"`
	DiskLimit bool `json:"diskLimit"`
}

// ErrorBody is the one error envelope of the native API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of the error envelope.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// Error codes of the native API.
const (
	CodeUnauthenticated   = "UNAUTHENTICATED"
	CodeForbidden         = "FORBIDDEN"
	CodeInvalidArgument   = "INVALID_ARGUMENT"
	CodeNotFound          = "NOT_FOUND"
	CodeSandboxNotFound   = "SANDBOX_NOT_FOUND"
	CodeAlreadyExists     = "ALREADY_EXISTS"
	CodeConflict          = "CONFLICT"
	CodeInvalidState      = "INVALID_STATE"
	CodeSandboxPaused     = "SANDBOX_PAUSED"
	CodeResourceExhausted = "RESOURCE_EXHAUSTED"
	CodeUnavailable       = "UNAVAILABLE"
	CodeNotImplemented    = "NOT_IMPLEMENTED"
	CodeInternal          = "INTERNAL"
)

// Image is an image in the server's local cache.
type Image struct {
	Ref       string    `json:"ref"`
	Digest    string    `json:"digest"`
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

// APIKeyList is the body of GET /v1/api-keys; secrets are never included.
type APIKeyList struct {
	Items []APIKey `json:"items"`
}

// Codes of the agent's own not-found answers, so that a client can tell a
// missing process or file from a missing sandbox.
const (
	CodeProcessNotFound = "PROCESS_NOT_FOUND"
	CodeContextNotFound = "CONTEXT_NOT_FOUND"
	CodeFileNotFound    = "FILE_NOT_FOUND"
)

// ExecRequest is the body of POST /v1/sandboxes/{id}/exec and of
// POST /v1/sandboxes/{id}/processes. Command is an argv, not a shell line:
// use ["sh", "-c", "..."] for shell syntax.
type ExecRequest struct {
	Command        []string          `json:"command"`
	Cwd            string            `json:"cwd,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	Stdin          string            `json:"stdin,omitempty"`
	TimeoutSeconds *int              `json:"timeoutSeconds,omitempty"` // exec: default 60, 0 = none; processes: default none
	User           string            `json:"user,omitempty"`           // name or uid inside the sandbox
}

// ExecResult is the answer of a command run to its end (and the data of
// the exit event of a streamed one, with empty Stdout and Stderr).
type ExecResult struct {
	ExitCode   int    `json:"exitCode"`
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	DurationMs int64  `json:"durationMs"`
	TimedOut   bool   `json:"timedOut"`
	Truncated  bool   `json:"truncated"`
}

// OutputChunk is the data of a stdout or stderr server-sent event.
type OutputChunk struct {
	Data string `json:"data"`
}

// Process is a background process started through the API.
type Process struct {
	PID       int        `json:"pid"`
	Command   []string   `json:"command"`
	Cwd       string     `json:"cwd"`
	State     string     `json:"state"` // running or exited
	ExitCode  *int       `json:"exitCode"`
	StartedAt time.Time  `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt"`
}

// ProcessList is the body of GET /v1/sandboxes/{id}/processes.
type ProcessList struct {
	Items []Process `json:"items"`
}

// SignalRequest is the body of POST /v1/sandboxes/{id}/processes/{pid}/signal.
type SignalRequest struct {
	Signal string `json:"signal"` // SIGTERM, TERM or 15
}

// StdinRequest is the body of POST /v1/sandboxes/{id}/processes/{pid}/stdin.
type StdinRequest struct {
	Data  string `json:"data,omitempty"`
	Close bool   `json:"close,omitempty"` // close stdin after Data
}

// FileInfo describes one file in a sandbox.
type FileInfo struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	Type       string    `json:"type"` // file, dir, symlink or other
	Size       int64     `json:"size"`
	Mode       string    `json:"mode"` // permission bits in octal, e.g. "0644"
	ModifiedAt time.Time `json:"modifiedAt"`
	LinkTarget string    `json:"linkTarget,omitempty"`
}

// FileList is the body of the file listing, search and upload answers.
type FileList struct {
	Items     []FileInfo `json:"items"`
	Truncated bool       `json:"truncated"`
}

// MkdirRequest is the body of POST /v1/sandboxes/{id}/files/mkdir.
type MkdirRequest struct {
	Path string `json:"path"`
	Mode string `json:"mode,omitempty"`
}

// MoveRequest is the body of POST /v1/sandboxes/{id}/files/move.
type MoveRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Overwrite bool   `json:"overwrite,omitempty"`
}

// ChmodRequest is the body of POST /v1/sandboxes/{id}/files/chmod.
type ChmodRequest struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
}

// CreateContextRequest is the body of POST /v1/sandboxes/{id}/contexts.
type CreateContextRequest struct {
	Language string            `json:"language"` // python or javascript
	Cwd      string            `json:"cwd,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
}

// CodeContext is a persistent interpreter in a sandbox.
type CodeContext struct {
	ID        string    `json:"id"`
	Language  string    `json:"language"`
	Cwd       string    `json:"cwd"`
	CreatedAt time.Time `json:"createdAt"`
}

// CodeContextList is the body of GET /v1/sandboxes/{id}/contexts.
type CodeContextList struct {
	Items []CodeContext `json:"items"`
}

// RunCodeRequest is the body of POST /v1/sandboxes/{id}/contexts/{ctx}/run.
type RunCodeRequest struct {
	Code           string `json:"code"`
	TimeoutSeconds *int   `json:"timeoutSeconds,omitempty"` // default 300; 0 = none
}

// RunCodeResult is what one run of code in a context gave. Result is the
// value of the last expression by MIME type (text/plain, text/html,
// image/png in base64...), as a notebook shows it; Outputs are the rich
// displays made on the way (matplotlib figures).
type RunCodeResult struct {
	Stdout     string              `json:"stdout"`
	Stderr     string              `json:"stderr"`
	Result     map[string]string   `json:"result,omitempty"`
	Outputs    []map[string]string `json:"outputs"`
	Error      *CodeError          `json:"error"`
	DurationMs int64               `json:"durationMs"`
}

// CodeError is an exception raised by code run in a context.
type CodeError struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Traceback string `json:"traceback"`
}

// PtyMessage is a text (control) message on the terminal WebSocket; binary
// messages carry the terminal's bytes both ways.
type PtyMessage struct {
	Type     string `json:"type"` // resize (client) or exit (server)
	Cols     int    `json:"cols,omitempty"`
	Rows     int    `json:"rows,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"`
}

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

// OrganizationSettings is the body of GET and PATCH
// /v1/organization/settings: the caller's organisation's defaults for new
// sandboxes. null means the server's default. PATCH is a merge patch:
// absent fields are kept, null clears one.
type OrganizationSettings struct {
	DefaultTimeoutSeconds     *int64     `json:"defaultTimeoutSeconds"`
	DefaultAutoStopMinutes    *int       `json:"defaultAutoStopMinutes"`
	DefaultAutoArchiveMinutes *int       `json:"defaultAutoArchiveMinutes"`
	DefaultAutoDeleteMinutes  *int       `json:"defaultAutoDeleteMinutes"`
	UpdatedAt                 *time.Time `json:"updatedAt,omitempty"`
}

// Webhook is a registered receiver of the organisation's state changes.
// Secret is only set in the answer to POST /v1/webhooks.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// CreateWebhookRequest is the body of POST /v1/webhooks.
type CreateWebhookRequest struct {
	URL string `json:"url"`
}

// WebhookList is the body of GET /v1/webhooks.
type WebhookList struct {
	Items []Webhook `json:"items"`
}

// StreamEvent is one server-sent event of GET /v1/events?follow=true: an
// event of the organisation's sandboxes, with the sandbox's name and the
// state it was left in.
type StreamEvent struct {
	Event
	SandboxName string `json:"sandboxName"`
	State       string `json:"state"`
}
