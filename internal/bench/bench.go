// Package bench is `hutch bench`: it measures what users of a Hutch
// server get (a create, an exec, a pause...) through the public Go SDK,
// on a server it starts for itself or on one it is pointed at, next to
// the floor those operations sit on (the OCI runtime run by hand, the
// cgroup freezer written directly), and prints the figures with their
// ratio to that floor.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// Scenario names, in the order the table shows them. The lifecycle ones
// run as one sandbox's life per round; the others each on their own.
const (
	ScenarioCreate     = "create"      // create to running, booted ("pool": false)
	ScenarioCreatePool = "create-pool" // create to running, from a full warm pool
	ScenarioCreateExec = "create-exec" // create to the first exec answered
	ScenarioExec       = "exec"        // exec true in a running sandbox
	ScenarioFileWrite  = "file-write"  // 1 MiB upload
	ScenarioFileRead   = "file-read"   // 1 MiB download
	ScenarioPause      = "pause"       // in memory: the freezer
	ScenarioResume     = "resume"
	ScenarioPauseDisk  = "pause-release"  // memory released: a checkpoint to disk
	ScenarioResumeDisk = "resume-release" // from that checkpoint
	ScenarioStop       = "stop"
	ScenarioStart      = "start"
	ScenarioDelete     = "delete"
	ScenarioGet        = "get"    // GET of one sandbox under concurrent clients
	ScenarioList       = "list"   // a full listing of ListSize sandboxes
	ScenarioBurst      = "burst"  // Burst creates at once
	ScenarioRaw        = "raw"    // the runtime baselines
	ScenarioDocker     = "docker" // the same image under Docker, where an engine answers
)

// Scenarios lists every scenario name, in table order.
var Scenarios = []string{ScenarioCreate, ScenarioCreatePool, ScenarioCreateExec, ScenarioExec, ScenarioFileWrite, ScenarioFileRead,
	ScenarioPause, ScenarioResume, ScenarioPauseDisk, ScenarioResumeDisk, ScenarioStop, ScenarioStart, ScenarioDelete,
	ScenarioGet, ScenarioList, ScenarioBurst, ScenarioRaw, ScenarioDocker}

// Options configure a run. The zero values of the counts take the
// defaults of DefaultOptions through Validate's caller.
type Options struct {
	// URL and APIKey name a running server; with URL empty, the bench
	// starts Binary serve (with ServeFlags) on a temporary data dir.
	URL, APIKey string
	Binary      string
	ServeFlags  []string
	// Rounds is how many times each scenario is measured, after Warmup
	// rounds that are not.
	Rounds, Warmup int
	// Scenarios selects what runs (empty: all).
	Scenarios []string
	Image     string
	// Runtime is the runtime every sandbox asks for in its create request
	// (empty: the server's default); see pickRuntime. A comma-separated
	// list, or "all" (every runtime of /v1/info), measures the sandbox
	// scenarios once per runtime; see pickRuntimes.
	Runtime string
	// Clients is the concurrency of the get scenario, Burst the number of
	// creates at once, ListSize the sandboxes listed.
	Clients, Burst, ListSize int
	// Density, when > 0, creates idle sandboxes in steps up to it and
	// reports the memory each costs.
	Density int
	// Raw are the runtime binaries measured as baselines; RawTar the
	// rootfs tarball of their bundle (default: the seed of Image).
	Raw    []string
	RawTar string
	// Docker is the docker client measured beside them when an engine
	// answers it (empty: not at all).
	Docker string
	// Breakdown reports where the server spent each create's time, from
	// the traces a server started with --trace-creates logs: the bench's
	// own server always does; another one needs ServerLog.
	Breakdown bool
	ServerLog string
	// UserAgent is sent with every request; ClientOptions are further
	// options of the SDK client of a URL server (a pinned certificate).
	UserAgent     string
	ClientOptions []client.Option
}

// DefaultOptions are the settings of a plain `hutch bench`.
func DefaultOptions() Options {
	return Options{Rounds: 20, Warmup: 2, Image: "base", Clients: 16, Burst: 50, ListSize: 100,
		Raw: []string{"crun", "runc"}, Docker: "docker"}
}

// Validate reports the first option that cannot work.
func (o Options) Validate() error {
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	switch {
	case o.Rounds < 1:
		return errors.New("rounds must be at least 1")
	case o.Warmup < 0 || o.Clients < 1 || o.Burst < 1 || o.ListSize < 1 || o.Density < 0:
		return errors.New("warm-up, clients, burst, list size and density must be positive")
	case o.URL == "" && o.Binary == "":
		return errors.New("no hutch binary to start a server with")
	case o.URL != "" && o.Breakdown && o.ServerLog == "":
		return errors.New("--breakdown with --url needs --server-log: the log of that server, started with --trace-creates")
	case o.URL == "" && o.ServerLog != "":
		return errors.New("--server-log is for a server given with --url; the bench reads its own server's log itself")
	}
	return nil
}

// selected reports whether scenario name runs.
func (o Options) selected(name string) bool {
	return len(o.Scenarios) == 0 || slices.Contains(o.Scenarios, name)
}

// run is one bench in progress.
type run struct {
	o    Options
	c    *client.Client
	info *api.Info
	// runtime is what each create asks for ("" on a server of one
	// runtime), caps what that runtime can do; shown is its name in the
	// report, and suffix what its results' names end with when the run
	// measures several runtimes (" [gvisor]"), else "".
	runtime, shown, suffix string
	caps                   api.Capabilities

	own   *ownServer // nil with Options.URL
	prog  *progress
	runID string

	mu   sync.Mutex
	live map[string]bool // sandboxes made and not yet deleted
}

// Run measures, writes the report to out (JSON when asJSON) and progress
// to progress. It returns the report; an error only when nothing could
// be measured. Failed operations are counted in the report's errors.
func Run(ctx context.Context, o Options, out, progressW io.Writer, asJSON bool) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &run{o: o, prog: newProgress(progressW), runID: fmt.Sprintf("%d-%d", os.Getpid(), time.Now().Unix()), live: map[string]bool{}}
	rep := &Report{Date: time.Now().UTC(), Host: describeHost(), Server: o.URL, Image: o.Image, Rounds: o.Rounds, Warmup: o.Warmup}
	url, key := o.URL, o.APIKey
	if url == "" {
		own, err := startServer(ctx, o.Binary, o.ServeFlags, progressW)
		if err != nil {
			return nil, err
		}
		r.own, url, key, rep.Server = own, own.url, own.key, "own"
		defer func() { own.stop(failed(rep)) }()
	}
	opts := []client.Option{client.WithUserAgent(o.UserAgent)}
	if r.own == nil {
		opts = append(opts, o.ClientOptions...)
	}
	c, err := client.New(url, key, opts...)
	if err != nil {
		return nil, err
	}
	r.c = c
	defer r.cleanup()
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("server info: %w", err)
	}
	r.info, rep.Version = info, info.Version
	targets, err := pickRuntimes(o.Runtime, info)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range targets {
		names = append(names, t.shown)
	}
	rep.Runtime = strings.Join(names, ", ")
	if len(targets) > 1 {
		rep.Runtimes = names
	}
	// Each runtime's sandbox scenarios, then the rows of one scenario
	// side by side; the breakdown reads the first runtime's creates.
	var life lifeSamples
	start := len(rep.Results)
	for i, t := range targets {
		r.use(t, len(targets) > 1)
		from := len(rep.Results)
		l := r.lifecycle(ctx, rep)
		r.mark(rep, from)
		if i == 0 {
			life = l
		}
	}
	sideBySide(rep.Results[start:])
	r.use(targets[0], len(targets) > 1)
	from := len(rep.Results)
	r.poolCreates(ctx, rep)
	r.load(ctx, rep)
	r.mark(rep, from)
	r.baselines(ctx, rep)
	r.docker(ctx, rep)
	for _, t := range targets {
		if o.Density == 0 || ctx.Err() != nil {
			break
		}
		r.use(t, len(targets) > 1)
		r.density(ctx, rep)
	}
	if o.Breakdown {
		r.breakdown(rep, life)
	}
	setFloors(rep)
	setDockers(rep)
	rep.Host.LoadAfter = loadAverage()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	r.prog.end()
	if asJSON {
		return rep, WriteJSON(out, rep)
	}
	return rep, WriteTable(out, rep)
}

// failed reports whether any operation of rep failed.
func failed(rep *Report) bool {
	for _, res := range rep.Results {
		if res.Errors > 0 {
			return true
		}
	}
	return false
}

// pickRuntime chooses the runtime of the bench's sandboxes: on a server
// that lists the runtimes a create may choose, want (or the default) must
// be one of them, and each create asks for it; a server of one runtime
// (no list) runs everything on it, and want can only confirm it, whole
// ("oci/crun") or by a part ("crun"). It returns the name to report, the
// name each create asks for, and what that runtime can do.
func pickRuntime(want string, info *api.Info) (shown, ask string, caps api.Capabilities, err error) {
	if len(info.Runtimes) > 0 {
		name := want
		if name == "" {
			name = info.DefaultRuntime
		}
		var names []string
		for _, rt := range info.Runtimes {
			if rt.Name == name {
				return rt.Name, want, rt.Capabilities, nil
			}
			names = append(names, rt.Name)
		}
		return "", "", caps, fmt.Errorf("--runtime %s: this server offers %s", name, strings.Join(names, ", "))
	}
	if want == "" || want == info.Runtime || slices.Contains(strings.Split(info.Runtime, "/"), want) {
		return info.Runtime, "", info.Capabilities, nil
	}
	return "", "", caps, fmt.Errorf("--runtime %s: this server runs its sandboxes on %q and offers no other; "+
		"start the bench's server on that runtime instead (--serve-flags '--runtime %s' or '--oci-runtime %s')", want, info.Runtime, want, want)
}

// target is one runtime the bench measures: the name the report shows,
// the name each create asks for, and what the runtime can do.
type target struct {
	shown, ask string
	caps       api.Capabilities
}

// pickRuntimes chooses the runtimes of the bench's sandboxes from want:
// one name (or none) as pickRuntime, a comma-separated list of them, or
// "all", every runtime the server lists. A runtime named twice is
// measured once.
func pickRuntimes(want string, info *api.Info) ([]target, error) {
	var wants []string
	switch {
	case want == "all" && len(info.Runtimes) > 0:
		for _, rt := range info.Runtimes {
			wants = append(wants, rt.Name)
		}
	case want == "all":
		wants = []string{""}
	default:
		wants = strings.Split(want, ",")
	}
	var out []target
	for _, w := range wants {
		w = strings.TrimSpace(w)
		if w == "" && len(wants) > 1 {
			return nil, fmt.Errorf("--runtime %q: an empty name in the list", want)
		}
		var t target
		var err error
		if t.shown, t.ask, t.caps, err = pickRuntime(w, info); err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o target) bool { return o.shown == t.shown }) {
			out = append(out, t)
		}
	}
	return out, nil
}

// use makes t the runtime of the sandboxes made from now on; several
// says the run measures more than one, so results name theirs.
func (r *run) use(t target, several bool) {
	r.runtime, r.shown, r.caps, r.suffix = t.ask, t.shown, t.caps, ""
	if several {
		r.suffix = " [" + t.shown + "]"
	}
}

// mark names the runtime of the hutch results added since from.
func (r *run) mark(rep *Report, from int) {
	for i := from; i < len(rep.Results); i++ {
		if rep.Results[i].Kind == KindHutch {
			rep.Results[i].Name += r.suffix
			rep.Results[i].Runtime = r.shown
		}
	}
}

// sideBySide orders the lifecycle results of several runtimes, added
// one runtime after the other, by scenario: each scenario's rows
// together, in the order the runtimes ran.
func sideBySide(results []Result) {
	slices.SortStableFunc(results, func(a, b Result) int {
		return slices.Index(lifecycleScenarios, baseName(a.Name)) - slices.Index(lifecycleScenarios, baseName(b.Name))
	})
}

// baseName is the scenario of a result's name, without the runtime
// suffix mark gives it: "create [gvisor]" is a create.
func baseName(name string) string {
	if i := strings.LastIndex(name, " ["); i >= 0 && strings.HasSuffix(name, "]") {
		return name[:i]
	}
	return name
}

// newSandbox is the create request of every sandbox the bench makes:
// the image, a tag to find leftovers by, an expiry as a last resort, and
// the cold path (a warm pool serves only the create-pool scenario).
func (r *run) newSandbox() api.CreateSandboxRequest {
	timeout := int64(2 * 60 * 60)
	return api.CreateSandboxRequest{Image: r.o.Image, Runtime: r.runtime, Metadata: map[string]string{"hutch-bench": r.runID},
		TimeoutSeconds: &timeout, Pool: new(bool)}
}

// create makes a sandbox and tracks it for cleanup.
func (r *run) create(ctx context.Context) (*api.Sandbox, error) {
	return r.createWith(ctx, r.newSandbox())
}

// createWith makes a sandbox of req and tracks it for cleanup.
func (r *run) createWith(ctx context.Context, req api.CreateSandboxRequest) (*api.Sandbox, error) {
	sb, err := r.c.CreateSandbox(ctx, req)
	if sb != nil && sb.ID != "" {
		r.mu.Lock()
		r.live[sb.ID] = true
		r.mu.Unlock()
	}
	return sb, err
}

// remove deletes a sandbox the bench made.
func (r *run) remove(ctx context.Context, id string) error {
	_, err := r.c.DeleteSandbox(ctx, id)
	if err == nil || client.IsNotFound(err) {
		r.mu.Lock()
		delete(r.live, id)
		r.mu.Unlock()
		return nil
	}
	return err
}

// removeAll deletes ids with a few workers.
func (r *run) removeAll(ctx context.Context, ids []string, phase string) {
	work := make(chan string)
	var wg sync.WaitGroup
	var done, failed int
	var mu sync.Mutex
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				err := r.remove(ctx, id)
				mu.Lock()
				done++
				if err != nil {
					failed++
				}
				r.prog.step(phase, done, len(ids))
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if failed > 0 {
		r.prog.say("%s: %d deletes failed", phase, failed)
	}
}

// cleanup deletes whatever the bench made and has not deleted, even when
// the run was interrupted.
// A create cut short by an interrupt may have made a sandbox the bench
// never heard of: the run's metadata tag finds those too.
func (r *run) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r.mu.Lock()
	ids := make([]string, 0, len(r.live))
	for id := range r.live {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	if tagged, err := r.tagged(ctx); err == nil {
		for _, id := range tagged {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	r.removeAll(ctx, ids, "cleanup: deleting sandboxes")
}

// seedTar is the rootfs tarball scripts/setup.sh builds for image.
func seedTar(image string) string {
	return filepath.Join("/var/cache/hutch/images", image+".tar")
}
