package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errHelp means the usage was printed on request: exit 0, nothing more.
var errHelp = errors.New("help shown")

// parse parses fs from args, accepting flags before and after positional
// arguments (hutch pause ID --no-wait). Arguments after "--" are returned
// apart and untouched, for an entrypoint. -h prints the usage and returns
// errHelp; any other flag mistake is a usage error.
func (e *env) parse(fs *flag.FlagSet, verb, synopsis, summary string, args []string) (pos, rest []string, err error) {
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(e, fs, verb, synopsis, summary)
				return nil, nil, errHelp
			}
			return nil, nil, usagef(verb, "%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, rest, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func printUsage(e *env, fs *flag.FlagSet, verb, synopsis, summary string) {
	w := e.stdout
	line := "usage: hutch " + verb
	if hasFlags(fs) {
		line += " [flags]"
	}
	if synopsis != "" {
		line += " " + synopsis
	}
	fmt.Fprintln(w, line)
	fmt.Fprintln(w)
	fmt.Fprintln(w, summary)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// needArgs checks the count of positional arguments.
func needArgs(verb string, pos []string, min, max int, what string) error {
	switch {
	case len(pos) < min:
		return usagef(verb, "missing %s", what)
	case max >= 0 && len(pos) > max:
		return usagef(verb, "unexpected argument %q", pos[max])
	}
	return nil
}

// kvFlag collects repeated K=V flags into a map.
type kvFlag map[string]string

func (f kvFlag) String() string { return "" }

func (f kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	f[k] = v
	return nil
}

// listFlag collects a repeated flag's values in order.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, ",") }

func (f *listFlag) Set(s string) error {
	*f = append(*f, s)
	return nil
}

// parseSeconds accepts whole seconds ("300") or a Go duration ("5m") and
// returns seconds, for flags people think of either way.
func parseSeconds(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds nor a duration such as 90s or 2h", s)
	}
	if d < 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a whole, positive number of seconds", s)
	}
	return int64(d / time.Second), nil
}

// parseMinutes accepts whole minutes ("30", "-1") or a Go duration
// ("2h"), for the auto-stop/archive/delete settings kept in minutes.
func parseMinutes(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < -1 {
			return 0, fmt.Errorf("%q: minutes must be -1 or more", s)
		}
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither minutes nor a duration such as 30m or 2h", s)
	}
	if d < 0 || d%time.Minute != 0 {
		return 0, fmt.Errorf("%q is not a whole, positive number of minutes", s)
	}
	return int(d / time.Minute), nil
}

// optFlag registers a flag whose value is parsed by conv and stored in
// *dst only when given, so that an absent flag leaves the server default.
func optFlag[T any](fs *flag.FlagSet, name, usage string, dst **T, conv func(string) (T, error)) {
	fs.Func(name, usage, func(s string) error {
		v, err := conv(s)
		if err != nil {
			return err
		}
		*dst = &v
		return nil
	})
}

func parsePositiveInt64(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive whole number", s)
	}
	return n, nil
}

func parsePositiveFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a positive number", s)
	}
	return f, nil
}
