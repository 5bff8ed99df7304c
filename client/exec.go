package client

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/hutchdev/hutch/api"
)

// Exec runs a command in a running sandbox and returns once it has ended
// (or was killed at its timeout, which defaults to 60 s).
func (c *Client) Exec(ctx context.Context, id string, req api.ExecRequest) (*api.ExecResult, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.ExecResult
	err := c.do(ctx, request{method: "POST", path: c.agentPath(id, "/exec"), body: req}, &out)
	return &out, err
}

// ExecStream runs a command and calls out with its output as it happens;
// the result carries the exit code (its Stdout and Stderr are empty).
func (c *Client) ExecStream(ctx context.Context, id string, req api.ExecRequest, out Output) (*api.ExecResult, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, request{method: "POST", path: c.agentPath(id, "/exec"), body: req, accept: "text/event-stream"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res api.ExecResult
	done, err := readEvents(resp.Body, out, &res)
	if err == nil && !done {
		err = fmt.Errorf("exec stream of sandbox %s ended without an exit event: %w", id, io.ErrUnexpectedEOF)
	}
	return &res, err
}

// StartProcess starts a background process, which outlives the call; its
// output is kept for ProcessLogs.
func (c *Client) StartProcess(ctx context.Context, id string, req api.ExecRequest) (*api.Process, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.Process
	err := c.do(ctx, request{method: "POST", path: c.agentPath(id, "/processes"), body: req}, &out)
	return &out, err
}

// ListProcesses lists the background processes of a sandbox.
func (c *Client) ListProcesses(ctx context.Context, id string) ([]api.Process, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.ProcessList
	err := c.do(ctx, request{method: "GET", path: c.agentPath(id, "/processes")}, &out)
	return out.Items, err
}

// GetProcess returns one background process's state and exit code.
func (c *Client) GetProcess(ctx context.Context, id string, pid int) (*api.Process, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.Process
	err := c.do(ctx, request{method: "GET", path: c.agentPath(id, "/processes/%s", strconv.Itoa(pid))}, &out)
	return &out, err
}

// ProcessLogs sends a background process's output so far to out; with
// follow it waits for more until the process ends. The process is
// returned when it has ended (nil while it runs).
func (c *Client) ProcessLogs(ctx context.Context, id string, pid int, follow bool, out Output) (*api.Process, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, request{method: "GET", path: c.agentPath(id, "/processes/%s/logs", strconv.Itoa(pid)),
		query: map[string][]string{"follow": {strconv.FormatBool(follow)}}, accept: "text/event-stream"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var p api.Process
	done, err := readEvents(resp.Body, out, &p)
	if err != nil || !done {
		return nil, err
	}
	return &p, nil
}

// SignalProcess sends a signal (SIGTERM, KILL, 2...) to a background
// process and everything it started.
func (c *Client) SignalProcess(ctx context.Context, id string, pid int, signal string) (*api.Process, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.Process
	err := c.do(ctx, request{method: "POST", path: c.agentPath(id, "/processes/%s/signal", strconv.Itoa(pid)),
		body: api.SignalRequest{Signal: signal}}, &out)
	return &out, err
}

// WriteStdin writes to a background process's stdin, closing it after
// data when closeAfter is set.
func (c *Client) WriteStdin(ctx context.Context, id string, pid int, data string, closeAfter bool) error {
	if err := checkID("sandbox", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: "POST", path: c.agentPath(id, "/processes/%s/stdin", strconv.Itoa(pid)),
		body: api.StdinRequest{Data: data, Close: closeAfter}}, nil)
}
