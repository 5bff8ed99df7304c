package api

import "time"

// ExecRequest is the body of POST /v1/sandboxes/{id}/exec and of
// POST /v1/sandboxes/{id}/processes. Command is an argv, not a shell line:
// use ["sh", "-c", "..."] for shell syntax.
type ExecRequest struct {
	Command        []string          `json:"command"`
	Cwd            string            `json:"cwd,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	Stdin          string            `json:"stdin,omitempty"`
	TimeoutSeconds *int              `json:"timeoutSeconds,omitempty"` // exec: default 60, 0 = none; processes: default none
	User           string            `json:"user,omitempty"`           // name or uid inside the sandbox
}

// ExecResult is the answer of a command run to its end (and the data of
// the exit event of a streamed one, with empty Stdout and Stderr).
type ExecResult struct {
	ExitCode   int    `json:"exitCode"`
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	DurationMs int64  `json:"durationMs"`
	TimedOut   bool   `json:"timedOut"`
	Truncated  bool   `json:"truncated"`
}

// OutputChunk is the data of a stdout or stderr server-sent event.
type OutputChunk struct {
	Data string `json:"data"`
}

// Process is a background process started through the API.
type Process struct {
	PID       int        `json:"pid"`
	Command   []string   `json:"command"`
	Cwd       string     `json:"cwd"`
	State     string     `json:"state"` // running or exited
	ExitCode  *int       `json:"exitCode"`
	StartedAt time.Time  `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt"`
}

// ProcessList is the body of GET /v1/sandboxes/{id}/processes.
type ProcessList struct {
	Items []Process `json:"items"`
}

// SignalRequest is the body of POST /v1/sandboxes/{id}/processes/{pid}/signal.
type SignalRequest struct {
	Signal string `json:"signal"` // SIGTERM, TERM or 15
}

// StdinRequest is the body of POST /v1/sandboxes/{id}/processes/{pid}/stdin.
type StdinRequest struct {
	Data  string `json:"data,omitempty"`
	Close bool   `json:"close,omitempty"` // close stdin after Data
}

// FileInfo describes one file in a sandbox.
type FileInfo struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	Type       string    `json:"type"` // file, dir, symlink or other
	Size       int64     `json:"size"`
	Mode       string    `json:"mode"` // permission bits in octal, e.g. "0644"
	ModifiedAt time.Time `json:"modifiedAt"`
	LinkTarget string    `json:"linkTarget,omitempty"`
}

// FileList is the body of the file listing, search and upload answers.
type FileList struct {
	Items     []FileInfo `json:"items"`
	Truncated bool       `json:"truncated"`
}

// MkdirRequest is the body of POST /v1/sandboxes/{id}/files/mkdir.
type MkdirRequest struct {
	Path string `json:"path"`
	Mode string `json:"mode,omitempty"`
}

// MoveRequest is the body of POST /v1/sandboxes/{id}/files/move.
type MoveRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Overwrite bool   `json:"overwrite,omitempty"`
}

// ChmodRequest is the body of POST /v1/sandboxes/{id}/files/chmod.
type ChmodRequest struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
}

// CreateContextRequest is the body of POST /v1/sandboxes/{id}/contexts.
type CreateContextRequest struct {
	Language string            `json:"language"` // python or javascript
	Cwd      string            `json:"cwd,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
}

// CodeContext is a persistent interpreter in a sandbox.
type CodeContext struct {
	ID        string    `json:"id"`
	Language  string    `json:"language"`
	Cwd       string    `json:"cwd"`
	CreatedAt time.Time `json:"createdAt"`
}

// CodeContextList is the body of GET /v1/sandboxes/{id}/contexts.
type CodeContextList struct {
	Items []CodeContext `json:"items"`
}

// RunCodeRequest is the body of POST /v1/sandboxes/{id}/contexts/{ctx}/run.
type RunCodeRequest struct {
	Code           string `json:"code"`
	TimeoutSeconds *int   `json:"timeoutSeconds,omitempty"` // default 300; 0 = none
}

// RunCodeResult is what one run of code in a context gave. Result is the
// value of the last expression by MIME type (text/plain, text/html,
// image/png in base64...), as a notebook shows it; Outputs are the rich
// displays made on the way (matplotlib figures).
type RunCodeResult struct {
	Stdout     string              `json:"stdout"`
	Stderr     string              `json:"stderr"`
	Result     map[string]string   `json:"result,omitempty"`
	Outputs    []map[string]string `json:"outputs"`
	Error      *CodeError          `json:"error"`
	DurationMs int64               `json:"durationMs"`
}

// CodeError is an exception raised by code run in a context.
type CodeError struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Traceback string `json:"traceback"`
}

// PtyMessage is a text (control) message on the terminal WebSocket; binary
// messages carry the terminal's bytes both ways.
type PtyMessage struct {
	Type     string `json:"type"` // resize (client) or exit (server)
	Cols     int    `json:"cols,omitempty"`
	Rows     int    `json:"rows,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"`
}
