package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hutchdev/hutch/api"
)

// CallOption adjusts one lifecycle call.
type CallOption func(*callOptions)

type callOptions struct {
	wait   bool
	memory string // pause only
}

// ReleaseMemory makes a Pause checkpoint the sandbox to disk and free its
// RAM (memory "release"); a sandbox already paused in memory moves to
// disk. Other calls ignore it.
func ReleaseMemory() CallOption {
	return func(o *callOptions) { o.memory = "release" }
}

// KeepMemory makes a Pause keep the sandbox in RAM whatever the server's
// or the organisation's default says. Other calls ignore it.
func KeepMemory() CallOption {
	return func(o *callOptions) { o.memory = "keep" }
}

// NoWait makes a lifecycle call return as soon as the server has accepted
// the work, with the sandbox in its transitional state (creating, pausing,
// ...), instead of after it has settled.
func NoWait() CallOption {
	return func(o *callOptions) { o.wait = false }
}

// waitQuery always states wait explicitly, so the SDK's behaviour does not
// depend on the server's default.
func waitQuery(opts []CallOption) url.Values {
	o := callOptions{wait: true}
	for _, f := range opts {
		f(&o)
	}
	return url.Values{"wait": {strconv.FormatBool(o.wait)}}
}

// CreateSandbox creates and starts a sandbox. By default it returns once
// the sandbox is running; with NoWait, once it is creating.
func (c *Client) CreateSandbox(ctx context.Context, req api.CreateSandboxRequest, opts ...CallOption) (*api.Sandbox, error) {
	var sb api.Sandbox
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/sandboxes", query: waitQuery(opts), body: req}, &sb)
	if err != nil {
		return nil, err
	}
	return &sb, nil
}

// GetSandbox returns a sandbox by ID or by name.
func (c *Client) GetSandbox(ctx context.Context, id string) (*api.Sandbox, error) {
	return c.sandboxCall(ctx, http.MethodGet, id, "", nil, nil)
}

// ListOptions filter and page ListSandboxes. Zero values mean no filter
// and the server's default page.
type ListOptions struct {
	States     []string          // any of these states
	Metadata   map[string]string // all of these pairs
	NamePrefix string
	Page       int // from 1
	PageSize   int // 1..200
}

// query encodes the options. Metadata travels as one parameter holding a
// URL-encoded query string ("k=v&k2=v2"), so keys and values may contain
// any character.
func (o ListOptions) query() url.Values {
	q := url.Values{}
	for _, s := range o.States {
		q.Add("state", s)
	}
	if len(o.Metadata) > 0 {
		m := url.Values{}
		for k, v := range o.Metadata {
			m.Set(k, v)
		}
		q.Set("metadata", m.Encode())
	}
	if o.NamePrefix != "" {
		q.Set("name", o.NamePrefix)
	}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(o.PageSize))
	}
	return q
}

// ListSandboxes returns one page of the organisation's sandboxes.
func (c *Client) ListSandboxes(ctx context.Context, opts ListOptions) (*api.SandboxList, error) {
	var list api.SandboxList
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/sandboxes", query: opts.query()}, &list)
	if err != nil {
		return nil, err
	}
	return &list, nil
}

// Pause freezes a running sandbox; memory and files are kept.
func (c *Client) Pause(ctx context.Context, id string, opts ...CallOption) (*api.Sandbox, error) {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	var body any
	if o.memory != "" {
		body = api.PauseRequest{Memory: o.memory}
	}
	return c.sandboxCall(ctx, http.MethodPost, id, "/pause", waitQuery(opts), body)
}

// Resume continues a paused sandbox (or one archived while paused on
// disk) where it stopped.
func (c *Client) Resume(ctx context.Context, id string, opts ...CallOption) (*api.Sandbox, error) {
	return c.action(ctx, id, "resume", waitQuery(opts))
}

// StopOptions adjust Stop.
type StopOptions struct {
	// Force kills the processes at once instead of SIGTERM and a grace period.
	Force bool
}

// Stop ends a sandbox's processes and frees its memory; the filesystem is
// kept for Start.
func (c *Client) Stop(ctx context.Context, id string, so StopOptions, opts ...CallOption) (*api.Sandbox, error) {
	q := waitQuery(opts)
	if so.Force {
		q.Set("force", "true")
	}
	return c.action(ctx, id, "stop", q)
}

// Start boots a stopped or archived sandbox again.
func (c *Client) Start(ctx context.Context, id string, opts ...CallOption) (*api.Sandbox, error) {
	return c.action(ctx, id, "start", waitQuery(opts))
}

// Archive moves a stopped sandbox's filesystem into the archive store.
func (c *Client) Archive(ctx context.Context, id string, opts ...CallOption) (*api.Sandbox, error) {
	return c.action(ctx, id, "archive", waitQuery(opts))
}

// DeleteSandbox removes a sandbox and everything it holds. The returned
// record is in state deleted (or deleting, with NoWait).
func (c *Client) DeleteSandbox(ctx context.Context, id string, opts ...CallOption) (*api.Sandbox, error) {
	return c.sandboxCall(ctx, http.MethodDelete, id, "", waitQuery(opts), nil)
}

// PatchMetadata merges patch into the sandbox's metadata: a nil value
// deletes the key, others set it.
func (c *Client) PatchMetadata(ctx context.Context, id string, patch map[string]*string) (*api.Sandbox, error) {
	if patch == nil {
		patch = map[string]*string{}
	}
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var sb api.Sandbox
	err := c.do(ctx, request{
		method: http.MethodPatch, path: pathf("/v1/sandboxes/%s/metadata", id),
		body: patch, contentType: "application/merge-patch+json",
	}, &sb)
	if err != nil {
		return nil, err
	}
	return &sb, nil
}

// RenewExpiration moves the sandbox's expiry to at, which must be in the
// future and later than the current expiry.
func (c *Client) RenewExpiration(ctx context.Context, id string, at time.Time) (*api.Sandbox, error) {
	body := api.RenewExpirationRequest{ExpiresAt: at.UTC().Format(time.RFC3339Nano)}
	return c.sandboxCall(ctx, http.MethodPost, id, "/renew-expiration", nil, body)
}

// SetTimeout sets the sandbox's timeout in seconds from now; nil removes
// the expiry altogether.
func (c *Client) SetTimeout(ctx context.Context, id string, seconds *int64) (*api.Sandbox, error) {
	body := api.SetTimeoutRequest{TimeoutSeconds: seconds}
	return c.sandboxCall(ctx, http.MethodPut, id, "/timeout", nil, body)
}

// Events returns the sandbox's event log, oldest first.
func (c *Client) Events(ctx context.Context, id string) (*api.EventList, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var list api.EventList
	if err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/sandboxes/%s/events", id)}, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

func (c *Client) action(ctx context.Context, id, verb string, q url.Values) (*api.Sandbox, error) {
	return c.sandboxCall(ctx, http.MethodPost, id, "/"+verb, q, nil)
}

// sandboxCall is a call on /v1/sandboxes/{id}+suffix answering one sandbox.
func (c *Client) sandboxCall(ctx context.Context, method, id, suffix string, q url.Values, body any) (*api.Sandbox, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var sb api.Sandbox
	path := pathf("/v1/sandboxes/%s", id) + suffix
	if err := c.do(ctx, request{method: method, path: path, query: q, body: body}, &sb); err != nil {
		return nil, err
	}
	return &sb, nil
}
