package client

import (
	"context"

	"github.com/hutchdev/hutch/api"
)

// CreateContext starts a persistent interpreter (python, or javascript
// where node is installed) in a sandbox.
func (c *Client) CreateContext(ctx context.Context, id string, req api.CreateContextRequest) (*api.CodeContext, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.CodeContext
	err := c.do(ctx, request{method: "POST", path: c.agentPath(id, "/contexts"), body: req}, &out)
	return &out, err
}

// RunCode runs code in a context; its variables persist for the next run.
// An exception is not an error of the call: it comes back in the
// result's Error, with its traceback.
func (c *Client) RunCode(ctx context.Context, id, contextID string, req api.RunCodeRequest) (*api.RunCodeResult, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.RunCodeResult
	err := c.do(ctx, request{method: "POST", path: c.agentPath(id, "/contexts/%s/run", contextID), body: req}, &out)
	return &out, err
}

// ListContexts lists a sandbox's code contexts.
func (c *Client) ListContexts(ctx context.Context, id string) ([]api.CodeContext, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.CodeContextList
	err := c.do(ctx, request{method: "GET", path: c.agentPath(id, "/contexts")}, &out)
	return out.Items, err
}

// DeleteContext ends a code context and its interpreter.
func (c *Client) DeleteContext(ctx context.Context, id, contextID string) error {
	if err := checkID("sandbox", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: "DELETE", path: c.agentPath(id, "/contexts/%s", contextID)}, nil)
}
