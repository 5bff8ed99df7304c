// Package cli is the hutch command line: every verb except serve, agent
// and init, each a thin layer over the Go SDK in package client, so that
// the CLI exercises exactly the API that users program against.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/hutchdev/hutch/client"
)

// DefaultURL is where hutch serve listens unless told otherwise.
const DefaultURL = "http://127.0.0.1:7420"

// Exit codes: 2 is reserved for mistakes found before any request is sent,
// so that scripts can tell a typo from a failure.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one verb (or verb group, such as image).
type command struct {
	name    string
	args    string // argument synopsis after the flags
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists the verbs in the order hutch help shows them.
func commands() []command {
	return []command{
		{"create", "[-- ENTRYPOINT [ARG...]]", "create and start a sandbox", runCreate},
		{"ls", "", "list sandboxes", runList},
		{"get", "ID|NAME", "show one sandbox", runGet},
		{"pause", "ID...", "freeze sandboxes (memory and files kept)", lifecycle("pause")},
		{"resume", "ID...", "continue paused sandboxes", lifecycle("resume")},
		{"stop", "ID...", "end sandboxes' processes (filesystem kept)", lifecycle("stop")},
		{"start", "ID...", "boot stopped or archived sandboxes", lifecycle("start")},
		{"archive", "ID...", "move stopped sandboxes to the archive store", lifecycle("archive")},
		{"rm", "ID...", "delete sandboxes and everything they hold", lifecycle("rm")},
		{"renew", "ID TIME|DURATION", "move a sandbox's expiry later (RFC 3339 time or e.g. 30m from now)", runRenew},
		{"timeout", "ID SECONDS|DURATION|none", "set a sandbox's timeout from now", runTimeout},
		{"events", "ID", "show a sandbox's event log", runEvents},
		{"exec", "ID -- COMMAND [ARG...]", "run a command in a sandbox (exits with its status)", runExec},
		{"cp", "SRC DST", "copy a file or directory into or out of a sandbox (ID:/path)", runCp},
		{"shell", "ID", "open an interactive terminal in a sandbox", runShell},
		{"logs", "ID PID", "show a background process's output", runLogs},
		{"image", "pull|import|ls|rm ...", "manage the server's image cache", runImage},
		{"org", "create NAME", "create an organisation (platform-admin key)", runOrg},
		{"key", "create|ls|rm ...", "manage the organisation's API keys", runKey},
		{"info", "", "show the server's version and capabilities", runInfo},
		{"top", "[ID...]", "show running sandboxes' CPU, memory and processes, refreshed", runTop},
		{"backup", "FILE", "copy the server's store while it runs (on the server's machine)", runBackup},
		{"restore", "FILE", "replace the server's store with a backup (server stopped)", runRestore},
		{"drain", "", "checkpoint running sandboxes before a restart; the next start resumes them (platform-admin key)", runDrain},
		{"install-service", "", "write and enable the systemd unit and /etc/hutch/config.yaml", runInstallService},
		{"bench", "", "measure the server's operations next to the raw OCI runtime (see docs/benchmarks.md)", runBench},
		{"version", "", "show client and server versions", runVersion},
	}
}

// env is the state shared by every verb: where to connect, how to print.
type env struct {
	stdout, stderr io.Writer
	url, apiKey    string
	json           bool
	stdin          io.Reader
	// tlsPin trusts the server's certificate by its SHA-256 fingerprint
	// (a --tls-self-signed server) instead of the system's roots.
	tlsPin string
}

// usageError is a mistake in the command line; it exits 2 and no request
// has been sent.
type usageError struct {
	verb string
	msg  string
}

func (e *usageError) Error() string { return e.msg }

func usagef(verb, format string, args ...any) error {
	return &usageError{verb: verb, msg: fmt.Sprintf(format, args...)}
}

// Run executes the command line args (without the program name) and
// returns the process exit code. HUTCH_URL and HUTCH_API_KEY give the
// defaults of --url and --api-key.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, url: os.Getenv("HUTCH_URL"), apiKey: os.Getenv("HUTCH_API_KEY"), stdin: os.Stdin,
		tlsPin: os.Getenv("HUTCH_TLS_FINGERPRINT")}
	if e.url == "" {
		e.url = DefaultURL
	}
	global := e.flagSet("hutch")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return exitOK
		}
		return e.fail(usagef("", "%v", err))
	}
	args = global.Args()
	if len(args) == 0 {
		printHelp(stderr)
		return exitUsage
	}
	verb, rest := args[0], args[1:]
	if verb == "help" || verb == "--help" {
		return runHelp(e, rest)
	}
	for _, c := range commands() {
		if c.name == verb {
			return e.fail(c.run(ctx, e, rest))
		}
	}
	return e.fail(usagef("", "unknown command %q", verb))
}

// fail prints err as one line and picks the exit code.
func (e *env) fail(err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	if errors.Is(err, errSomeFailed) {
		return exitError
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status) // the remote command's own, already reported by it
	}
	var ue *usageError
	if errors.As(err, &ue) {
		hint := "hutch help"
		if ue.verb != "" {
			hint = "hutch " + ue.verb + " -h"
		}
		fmt.Fprintf(e.stderr, "error: %s (see '%s')\n", clean(ue.msg), hint)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "error: %s\n", errorLine(err))
	return exitError
}

// errorLine renders err for people, on one line and without terminal
// escapes: API errors with their code and request ID, network errors
// with the server they could not reach.
func errorLine(err error) string { return clean(errorText(err)) }

func errorText(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		msg := strings.ReplaceAll(ae.Message, "\n", " ")
		if ae.RequestID != "" {
			return fmt.Sprintf("%s (%s, request id %s)", msg, ae.Code, ae.RequestID)
		}
		return fmt.Sprintf("%s (%s)", msg, ae.Code)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return fmt.Sprintf("cannot reach %s://%s: %v", u.Scheme, u.Host, ue.Err)
		}
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// flagSet returns a FlagSet that reports errors to the caller instead of
// printing, with the connection flags every verb accepts.
func (e *env) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.url, "url", e.url, "server URL (env HUTCH_URL)")
	// A Func flag shows no default, so -h never prints a key taken from
	// the environment.
	fs.Func("api-key", "API `key` (env HUTCH_API_KEY)", func(s string) error {
		e.apiKey = s
		return nil
	})
	fs.BoolVar(&e.json, "json", e.json, "print the API's JSON instead of tables")
	fs.StringVar(&e.tlsPin, "tls-fingerprint", e.tlsPin, "trust the server's TLS certificate by this SHA-256 fingerprint, as hutch serve --tls-self-signed prints it (env HUTCH_TLS_FINGERPRINT)")
	return fs
}

// client connects to the configured server; a malformed URL is a usage
// error.
func (e *env) client(verb string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("hutch-cli/" + version())}
	if e.tlsPin != "" {
		opts = append(opts, client.WithPinnedCertificate(e.tlsPin))
	}
	c, err := client.New(e.url, e.apiKey, opts...)
	if err != nil {
		return nil, usagef(verb, "--url: %v", err)
	}
	return c, nil
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "usage: hutch [--url URL] [--api-key KEY] [--json] COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	fmt.Fprintln(w, "  serve    run the server (see 'hutch serve -h')")
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'hutch COMMAND -h' for a command's flags.")
	fmt.Fprintf(w, "The server is $HUTCH_URL (default %s), the key $HUTCH_API_KEY.\n", DefaultURL)
}

func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		printHelp(e.stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return e.fail(c.run(context.Background(), e, []string{"-h"}))
		}
	}
	return e.fail(usagef("", "unknown command %q", args[0]))
}

// sortedKeys orders a map's keys so output is stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
