package cli

import (
	"context"
	"os"
	"strings"

	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/bench"
)

const benchSummary = `measure create, exec, pause, resume, stop, start, delete and more through the API, next to the raw OCI runtime

Without --url, bench starts its own hutch serve (this binary) on a temporary
data dir and a free loopback port, with --trace-creates, and removes it after.
With --url (and --api-key) it measures that server: it makes and deletes its
own sandboxes there, tagged with the metadata hutch-bench=<run>. Progress goes
to stderr, the table (or --json) to stdout; see docs/benchmarks.md.`

func runBench(ctx context.Context, e *env, args []string) error {
	o := bench.DefaultOptions()
	urlBefore := e.url
	fs := e.flagSet("bench")
	fs.IntVar(&o.Rounds, "n", o.Rounds, "measured rounds of each scenario")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "rounds run first and not measured")
	scenarios := fs.String("scenarios", "", "comma-separated scenarios to run (default all): "+strings.Join(bench.Scenarios, ","))
	fs.StringVar(&o.Image, "image", o.Image, "image of the sandboxes (and of the raw bundle)")
	fs.StringVar(&o.Runtime, "runtime", "", "runtime every create asks for, one of /v1/info's runtimes (default: the server's); "+
		"a comma-separated list or 'all' runs the sandbox scenarios once per runtime, side by side")
	fs.IntVar(&o.Clients, "clients", o.Clients, "concurrent clients of the get scenario")
	fs.IntVar(&o.Burst, "burst", o.Burst, "creates at once in the burst scenario")
	fs.IntVar(&o.ListSize, "list-size", o.ListSize, "sandboxes the list scenario lists")
	fs.IntVar(&o.Density, "density", 0, "create up to `N` idle sandboxes in steps and report the memory each costs (0: off)")
	raw := fs.String("raw", strings.Join(o.Raw, ","), "runtime binaries measured by hand as the floor (empty: none)")
	fs.StringVar(&o.RawTar, "raw-tar", "", "rootfs tarball of the raw bundle (default /var/cache/hutch/images/IMAGE.tar)")
	fs.StringVar(&o.Docker, "docker", o.Docker, "docker client measured beside the raw runtimes when its engine answers (DOCKER_HOST; empty: never)")
	fs.BoolVar(&o.Breakdown, "breakdown", false, "show where the server spends each create's time (from its --trace-creates log)")
	fs.StringVar(&o.ServerLog, "server-log", "", "log `file` of the --url server, for --breakdown")
	serveFlags := fs.String("serve-flags", "", "extra flags of the bench's own hutch serve, space-separated (e.g. '--oci-runtime runc')")
	pos, _, err := e.parse(fs, "bench", "", benchSummary, args)
	if err != nil {
		return err
	}
	if err := needArgs("bench", pos, 0, 0, ""); err != nil {
		return err
	}
	// Only a --url given on this command line (or before the verb) points
	// the bench at a server: HUTCH_URL alone must not send hundreds of
	// sandboxes to someone's server.
	explicit := e.url != urlBefore || urlBefore != urlFromEnv()
	if explicit {
		o.URL, o.APIKey = e.url, e.apiKey
		if e.tlsPin != "" {
			o.ClientOptions = append(o.ClientOptions, client.WithPinnedCertificate(e.tlsPin))
		}
	} else if o.Binary, err = os.Executable(); err != nil {
		return err
	}
	if *scenarios != "" {
		o.Scenarios = strings.Split(*scenarios, ",")
	}
	o.Raw = nil
	if *raw != "" {
		o.Raw = strings.Split(*raw, ",")
	}
	o.ServeFlags = strings.Fields(*serveFlags)
	o.UserAgent = "hutch-bench/" + version()
	if err := o.Validate(); err != nil {
		return usagef("bench", "%v", err)
	}
	rep, err := bench.Run(ctx, o, e.stdout, e.stderr, e.json)
	if err != nil {
		return err
	}
	for _, res := range rep.Results {
		if res.Errors > 0 {
			return errSomeFailed
		}
	}
	return nil
}

// urlFromEnv is the server URL the CLI starts from: HUTCH_URL or the
// default.
func urlFromEnv() string {
	if u := os.Getenv("HUTCH_URL"); u != "" {
		return u
	}
	return DefaultURL
}
