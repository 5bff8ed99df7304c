package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

func runCreate(ctx context.Context, e *env, args []string) error {
	var (
		req                api.CreateSandboxRequest
		res                api.ResourcesRequest
		env, md            = kvFlag{}, kvFlag{}
		allow              listFlag
		noInternet, noWait bool
		noPool             bool
	)
	fs := e.flagSet("create")
	fs.StringVar(&req.Name, "name", "", "sandbox name, unique in the organisation (default: generated)")
	fs.StringVar(&req.Image, "image", "", "OCI image reference (default: the server's)")
	fs.StringVar(&req.Template, "template", "", "template to create from")
	fs.Var(env, "env", "environment variable `K=V` (repeat)")
	fs.Var(md, "metadata", "metadata pair `K=V` (repeat)")
	optFlag(fs, "cpu", "CPU `cores`, fractions allowed", &res.CPU, parsePositiveFloat)
	optFlag(fs, "memory", "memory limit in `MB`", &res.MemoryMB, parsePositiveInt64)
	optFlag(fs, "disk", "disk limit in `MB`", &res.DiskMB, parsePositiveInt64)
	optFlag(fs, "pids", "process limit (`n` processes)", &res.Pids, parsePositiveInt64)
	optFlag(fs, "timeout", "kill after this long: `seconds` or a duration such as 1h", &req.TimeoutSeconds, parseSeconds)
	optFlag(fs, "auto-stop", "stop after this long idle: `minutes` or a duration; 0 = off", &req.AutoStopMinutes, parseMinutes)
	optFlag(fs, "auto-pause", "pause after this long idle: `minutes` or a duration; 0 = off", &req.AutoPauseMinutes, parseMinutes)
	optFlag(fs, "auto-archive", "archive after this long stopped: `minutes` or a duration; 0 = off", &req.AutoArchiveMinutes, parseMinutes)
	optFlag(fs, "auto-delete", "delete after this long stopped: `minutes` or a duration; 0 = on stop, -1 = never", &req.AutoDeleteMinutes, parseMinutes)
	fs.BoolVar(&noInternet, "no-internet", false, "no network access outside the sandbox")
	fs.Var(&allow, "allow-cidr", "reachable `CIDR` when internet is off (repeat)")
	fs.BoolVar(&noWait, "no-wait", false, "return once creation has started")
	fs.BoolVar(&noPool, "no-pool", false, "boot the sandbox even when a warm pool could serve the create")
	pos, entrypoint, err := e.parse(fs, "create", "[-- ENTRYPOINT [ARG...]]", "Create and start a sandbox; prints its ID.", args)
	if err != nil {
		return err
	}
	if err := needArgs("create", pos, 0, 0, ""); err != nil {
		return err
	}
	req.Entrypoint = entrypoint
	if noPool {
		req.Pool = new(bool)
	}
	if len(env) > 0 {
		req.Env = env
	}
	if len(md) > 0 {
		req.Metadata = md
	}
	if res != (api.ResourcesRequest{}) {
		req.Resources = &res
	}
	if noInternet || len(allow) > 0 {
		req.Network = &api.NetworkRequest{AllowCIDRs: allow}
		if noInternet {
			req.Network.Internet = new(bool)
		}
	}
	c, err := e.client("create")
	if err != nil {
		return err
	}
	sb, err := c.CreateSandbox(ctx, req, waitOpt(noWait)...)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, sb)
	}
	fmt.Fprintln(e.stdout, clean(sb.ID))
	if sb.State != "running" {
		fmt.Fprintf(e.stderr, "%s is %s\n", clean(sb.ID), clean(sb.State))
	}
	return nil
}

func waitOpt(noWait bool) []client.CallOption {
	if noWait {
		return []client.CallOption{client.NoWait()}
	}
	return nil
}

func runList(ctx context.Context, e *env, args []string) error {
	var (
		opts   client.ListOptions
		states listFlag
		md     = kvFlag{}
	)
	fs := e.flagSet("ls")
	fs.Var(&states, "state", "only sandboxes in this `state` (repeat for any of several)")
	fs.Var(md, "metadata", "only sandboxes with metadata `K=V` (repeat: all must match)")
	fs.StringVar(&opts.NamePrefix, "name", "", "only sandboxes whose name starts with this `prefix`")
	fs.IntVar(&opts.Page, "page", 0, "page number, from 1")
	fs.IntVar(&opts.PageSize, "page-size", 0, "sandboxes per page, 1 to 200 (default: the server's, 20)")
	pos, _, err := e.parse(fs, "ls", "", "List sandboxes, newest first.", args)
	if err != nil {
		return err
	}
	if err := needArgs("ls", pos, 0, 0, ""); err != nil {
		return err
	}
	if opts.Page < 0 {
		return usagef("ls", "--page must be 1 or more")
	}
	if opts.PageSize < 0 || opts.PageSize > 200 {
		return usagef("ls", "--page-size must be between 1 and 200")
	}
	opts.States = states
	if len(md) > 0 {
		opts.Metadata = md
	}
	c, err := e.client("ls")
	if err != nil {
		return err
	}
	list, err := c.ListSandboxes(ctx, opts)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, list)
	}
	now := time.Now()
	tw := table(e.stdout, "ID", "NAME", "STATE", "IMAGE", "AGE")
	for _, sb := range list.Items {
		row(tw, sb.ID, sb.Name, sb.State, orDash(sb.Image), age(sb.CreatedAt, now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p := list.Pagination; p.HasNextPage {
		fmt.Fprintf(e.stderr, "page %d of %d (%d sandboxes); next: --page %d\n", p.Page, p.TotalPages, p.TotalItems, p.Page+1)
	}
	return nil
}

func runGet(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("get")
	pos, _, err := e.parse(fs, "get", "ID|NAME", "Show one sandbox.", args)
	if err != nil {
		return err
	}
	if err := needArgs("get", pos, 1, 1, "sandbox ID or name"); err != nil {
		return err
	}
	c, err := e.client("get")
	if err != nil {
		return err
	}
	sb, err := c.GetSandbox(ctx, pos[0])
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, sb)
	}
	return printSandbox(e.stdout, sb)
}

func runRenew(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("renew")
	pos, _, err := e.parse(fs, "renew", "ID TIME|DURATION",
		"Move a sandbox's expiry to an RFC 3339 TIME, or to DURATION (such as 30m) from now.", args)
	if err != nil {
		return err
	}
	if err := needArgs("renew", pos, 2, 2, "sandbox ID and new expiry"); err != nil {
		return err
	}
	at, err := parseExpiry(pos[1], time.Now())
	if err != nil {
		return usagef("renew", "%v", err)
	}
	return e.sandboxCall(ctx, "renew", func(c *client.Client) (*api.Sandbox, error) {
		return c.RenewExpiration(ctx, pos[0], at)
	})
}

// parseExpiry reads an absolute RFC 3339 time or a duration from now.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a positive duration", s)
	}
	return now.Add(d), nil
}

func runTimeout(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("timeout")
	pos, _, err := e.parse(fs, "timeout", "ID SECONDS|DURATION|none",
		"Set a sandbox's timeout, counted from now; none removes the expiry.", args)
	if err != nil {
		return err
	}
	if err := needArgs("timeout", pos, 2, 2, "sandbox ID and timeout"); err != nil {
		return err
	}
	var seconds *int64
	if pos[1] != "none" {
		n, err := parseSeconds(pos[1])
		if err != nil {
			return usagef("timeout", "%v", err)
		}
		seconds = &n
	}
	return e.sandboxCall(ctx, "timeout", func(c *client.Client) (*api.Sandbox, error) {
		return c.SetTimeout(ctx, pos[0], seconds)
	})
}

// sandboxCall runs a call that answers with one sandbox and prints it
// as get does.
func (e *env) sandboxCall(ctx context.Context, verb string, call func(*client.Client) (*api.Sandbox, error)) error {
	c, err := e.client(verb)
	if err != nil {
		return err
	}
	sb, err := call(c)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, sb)
	}
	return printSandbox(e.stdout, sb)
}

func runEvents(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("events")
	pos, _, err := e.parse(fs, "events", "ID", "Show a sandbox's event log, oldest first.", args)
	if err != nil {
		return err
	}
	if err := needArgs("events", pos, 1, 1, "sandbox ID"); err != nil {
		return err
	}
	c, err := e.client("events")
	if err != nil {
		return err
	}
	list, err := c.Events(ctx, pos[0])
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, list)
	}
	tw := table(e.stdout, "TIME", "TYPE", "FROM", "TO", "CAUSE", "MESSAGE")
	for _, ev := range list.Items {
		row(tw, ev.Time.Local().Format(time.RFC3339), ev.Type, orDash(ev.From), orDash(ev.To), orDash(ev.Cause), ev.Message)
	}
	return tw.Flush()
}
