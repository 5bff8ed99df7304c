package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/term"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// exitStatus makes hutch exit with a remote command's own status, so that
// `hutch exec ID -- false` fails a script as `false` would.
type exitStatus int

func (e exitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func runExec(ctx context.Context, e *env, args []string) error {
	var cwd, user string
	var timeout int
	var stdin, detach bool
	envs := kvFlag{}
	fs := e.flagSet("exec")
	fs.BoolVar(&detach, "d", false, "start the command in the background, print its process id and return (see 'hutch logs')")
	fs.StringVar(&cwd, "w", "", "working `dir` inside the sandbox")
	fs.StringVar(&user, "u", "", "run as this `user` (name or uid)")
	fs.IntVar(&timeout, "timeout", -1, "kill the command after `seconds` (0: never; default: the server's 60)")
	fs.BoolVar(&stdin, "i", false, "send this program's stdin to the command")
	fs.Var(envs, "e", "set an environment variable (`KEY=VALUE`, repeatable)")
	pos, cmd, err := e.parse(fs, "exec", "ID -- COMMAND [ARG...]", "Run a command in a sandbox, streaming its output; hutch exits with its status.", args)
	if err != nil {
		return err
	}
	if err := needArgs("exec", pos, 1, 1, "sandbox ID"); err != nil {
		return err
	}
	if len(cmd) == 0 {
		return usagef("exec", "missing command after --")
	}
	c, err := e.client("exec")
	if err != nil {
		return err
	}
	req := api.ExecRequest{Command: cmd, Cwd: cwd, User: user, Env: envs}
	if timeout >= 0 {
		req.TimeoutSeconds = &timeout
	}
	if stdin {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return err
		}
		req.Stdin = string(b)
	}
	if detach {
		p, err := c.StartProcess(ctx, pos[0], req)
		if err != nil {
			return err
		}
		if e.json {
			return printJSON(e.stdout, p)
		}
		fmt.Fprintln(e.stdout, p.PID)
		return nil
	}
	res, err := c.ExecStream(ctx, pos[0], req, func(stream, data string) {
		if stream == "stderr" {
			io.WriteString(e.stderr, data)
			return
		}
		io.WriteString(e.stdout, data)
	})
	if err != nil {
		return err
	}
	if res.TimedOut {
		fmt.Fprintf(e.stderr, "hutch: the command was killed after its timeout\n")
	}
	if res.ExitCode != 0 {
		return exitStatus(res.ExitCode)
	}
	return nil
}

func runShell(ctx context.Context, e *env, args []string) error {
	var command string
	fs := e.flagSet("shell")
	fs.StringVar(&command, "c", "", "run this shell `line` in the terminal instead of a login shell")
	pos, _, err := e.parse(fs, "shell", "ID", "Open an interactive terminal in a sandbox.", args)
	if err != nil {
		return err
	}
	if err := needArgs("shell", pos, 1, 1, "sandbox ID"); err != nil {
		return err
	}
	c, err := e.client("shell")
	if err != nil {
		return err
	}
	in := int(os.Stdin.Fd())
	interactive := term.IsTerminal(in)
	opts := client.TerminalOptions{Command: command}
	if interactive {
		opts.Cols, opts.Rows, _ = term.GetSize(in)
	}
	t, err := c.OpenTerminal(ctx, pos[0], opts)
	if err != nil {
		return err
	}
	defer t.Close()
	if interactive {
		old, err := term.MakeRaw(in)
		if err != nil {
			return err
		}
		defer term.Restore(in, old)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if cols, rows, err := term.GetSize(in); err == nil {
					_ = t.Resize(cols, rows)
				}
			}
		}()
	}
	go func() { _, _ = io.Copy(t, e.stdin) }()
	code, err := t.Run(e.stdout)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

func runLogs(ctx context.Context, e *env, args []string) error {
	var follow bool
	fs := e.flagSet("logs")
	fs.BoolVar(&follow, "f", false, "follow the output until the process ends")
	pos, _, err := e.parse(fs, "logs", "ID PID", "Show the output of a background process.", args)
	if err != nil {
		return err
	}
	if err := needArgs("logs", pos, 2, 2, "sandbox ID and PID"); err != nil {
		return err
	}
	pid, err := strconv.Atoi(pos[1])
	if err != nil {
		return usagef("logs", "PID must be a number, not %q", pos[1])
	}
	c, err := e.client("logs")
	if err != nil {
		return err
	}
	_, err = c.ProcessLogs(ctx, pos[0], pid, follow, func(stream, data string) {
		if stream == "stderr" {
			io.WriteString(e.stderr, data)
			return
		}
		io.WriteString(e.stdout, data)
	})
	return err
}
