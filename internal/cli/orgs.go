package cli

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hutchdev/hutch/api"
)

// Version is the CLI's version; the build may set it with
// -ldflags "-X github.com/hutchdev/hutch/internal/cli.Version=v1.2.3".
var Version = ""

// version falls back to the module version Go recorded at build time.
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func runOrg(ctx context.Context, e *env, args []string) error {
	sub := map[string]func(context.Context, *env, []string) error{"create": runOrgCreate}
	return e.group(ctx, "org", "create NAME", "Manage organisations:\n  create NAME   create one, with its first admin key (platform-admin key)", sub, args)
}

func runOrgCreate(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("org create")
	pos, _, err := e.parse(fs, "org create", "NAME",
		"Create an organisation and print its first admin key, which is shown only once.", args)
	if err != nil {
		return err
	}
	if err := needArgs("org create", pos, 1, 1, "organisation name"); err != nil {
		return err
	}
	c, err := e.client("org create")
	if err != nil {
		return err
	}
	org, err := c.CreateOrganization(ctx, api.CreateOrganizationRequest{Name: pos[0]})
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, org)
	}
	tw := table(e.stdout)
	row(tw, "id:", org.ID)
	row(tw, "name:", org.Name)
	row(tw, "api key:", org.APIKey)
	fmt.Fprintln(e.stderr, "keep the API key now: it is not shown again")
	return tw.Flush()
}

func runKey(ctx context.Context, e *env, args []string) error {
	sub := map[string]func(context.Context, *env, []string) error{
		"create": runKeyCreate, "ls": runKeyList, "rm": runKeyRemove,
	}
	return e.group(ctx, "key", "create|ls|rm ...", "Manage the organisation's API keys:\n"+
		"  create [--name N] [--admin]   create a key (admin key)\n"+
		"  ls                            list keys\n"+
		"  rm ID...                      revoke keys (admin key)", sub, args)
}

func runKeyCreate(ctx context.Context, e *env, args []string) error {
	var req api.CreateAPIKeyRequest
	fs := e.flagSet("key create")
	fs.StringVar(&req.Name, "name", "", "a name to recognise the key by")
	fs.BoolVar(&req.Admin, "admin", false, "the key may manage keys")
	pos, _, err := e.parse(fs, "key create", "", "Create an API key and print its secret, which is shown only once.", args)
	if err != nil {
		return err
	}
	if err := needArgs("key create", pos, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.client("key create")
	if err != nil {
		return err
	}
	key, err := c.CreateAPIKey(ctx, req)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, key)
	}
	tw := table(e.stdout)
	row(tw, "id:", key.ID)
	row(tw, "name:", key.Name)
	row(tw, "admin:", fmt.Sprint(key.Admin))
	row(tw, "api key:", key.APIKey)
	fmt.Fprintln(e.stderr, "keep the API key now: it is not shown again")
	return tw.Flush()
}

func runKeyList(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("key ls")
	pos, _, err := e.parse(fs, "key ls", "", "List the organisation's API keys (never their secrets).", args)
	if err != nil {
		return err
	}
	if err := needArgs("key ls", pos, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.client("key ls")
	if err != nil {
		return err
	}
	keys, err := c.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, api.APIKeyList{Items: keys})
	}
	now := time.Now()
	tw := table(e.stdout, "ID", "NAME", "PREFIX", "ADMIN", "AGE", "REVOKED")
	for _, k := range keys {
		row(tw, k.ID, orDash(k.Name), k.Prefix, fmt.Sprint(k.Admin), age(k.CreatedAt, now), timeOrDash(k.RevokedAt))
	}
	return tw.Flush()
}

func runKeyRemove(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("key rm")
	ids, _, err := e.parse(fs, "key rm", "ID...", "Revoke API keys.", args)
	if err != nil {
		return err
	}
	if err := needArgs("key rm", ids, 1, -1, "key ID"); err != nil {
		return err
	}
	c, err := e.client("key rm")
	if err != nil {
		return err
	}
	return e.each(ids, func(id string) error {
		if err := c.RevokeAPIKey(ctx, id); err != nil {
			return err
		}
		if !e.json {
			fmt.Fprintf(e.stdout, "%s\trevoked\n", clean(id))
		}
		return nil
	})
}

func runInfo(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("info")
	pos, _, err := e.parse(fs, "info", "", "Show the server's version, runtime and capabilities.", args)
	if err != nil {
		return err
	}
	if err := needArgs("info", pos, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.client("info")
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, info)
	}
	tw := table(e.stdout)
	row(tw, "server:", e.url)
	row(tw, "version:", info.Version)
	row(tw, "runtime:", info.Runtime)
	caps := info.Capabilities
	row(tw, "pause:", fmt.Sprint(caps.Pause))
	row(tw, "archive:", fmt.Sprint(caps.Archive))
	row(tw, "network:", fmt.Sprint(caps.Network))
	row(tw, "ports:", fmt.Sprint(caps.Ports))
	row(tw, "disk limit:", fmt.Sprint(caps.DiskLimit))
	row(tw, "agent:", fmt.Sprint(caps.Agent))
	if rl := info.RateLimits; rl != nil {
		row(tw, "rate limit, per key:", rateText(rl.PerKey))
		row(tw, "rate limit, organisation:", rateText(rl.PerOrg))
	}
	return tw.Flush()
}

// runVersion prints the client's version and, when the server answers,
// the server's; an unreachable server is noted, not a failure.
func runVersion(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("version")
	pos, _, err := e.parse(fs, "version", "", "Show the client's version and the server's, if reachable.", args)
	if err != nil {
		return err
	}
	if err := needArgs("version", pos, 0, 0, ""); err != nil {
		return err
	}
	out := struct {
		Client string `json:"client"`
		Server string `json:"server,omitempty"`
	}{Client: version()}
	c, err := e.client("version")
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "server: %s\n", errorLine(err))
	} else {
		out.Server = info.Version
	}
	if e.json {
		return printJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "client: %s\n", clean(out.Client))
	if out.Server != "" {
		fmt.Fprintf(e.stdout, "server: %s\n", clean(out.Server))
	}
	return nil
}

func rateText(l api.RateLimit) string {
	if l.PerSecond <= 0 {
		return "none"
	}
	return fmt.Sprintf("%g/s, %d at once", l.PerSecond, l.Burst)
}
