package podinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A prepared sandbox of a warm pool: boot with --held does everything a
// boot does (the freezer, the agent's and the control ports, the root)
// but waits, still holding CAP_SYS_ADMIN, until the control port brings
// the take: the user's workload, environment, pids limit and hostname.
// It then applies what needs the capability (the pids limit, the pod's
// hostname), drops it and starts init as any boot does. Until then the
// state command answers StateHeld, and nothing of the sandbox runs.

// ControlTake is the take command: "take " and a TakeRequest as JSON on
// the same line; answered StateTaken once init runs.
const ControlTake = "take"

// States of a held boot.
const (
	StateHeld  = "HELD"
	StateTaken = "TAKEN"
)

// TakeRequest is the user's part of a prepared sandbox.
type TakeRequest struct {
	Args     []string          `json:"args,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Pids     int64             `json:"pids,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
}

// holder is a held boot's wait for its take; nil for a boot that was not
// held.
type holder struct {
	mu    sync.Mutex
	taken bool
	reqs  chan heldTake
}

// heldTake is a take received, with where boot says how it went.
type heldTake struct {
	req  TakeRequest
	done chan error
}

func newHolder() *holder { return &holder{reqs: make(chan heldTake)} }

// held reports whether boot still waits for its take.
func (h *holder) held() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.taken
}

// take hands the request on the control line to boot and waits until
// init runs (or boot failed); a boot is taken once.
func (h *holder) take(arg string) (string, error) {
	if h == nil {
		return "", errors.New("this sandbox was not prepared to be taken")
	}
	var req TakeRequest
	if err := json.Unmarshal([]byte(arg), &req); err != nil {
		return "", fmt.Errorf("bad take: %w", err)
	}
	h.mu.Lock()
	if h.taken {
		h.mu.Unlock()
		return "", errors.New("taken already")
	}
	h.taken = true
	h.mu.Unlock()
	t := heldTake{req: req, done: make(chan error, 1)}
	h.reqs <- t
	if err := <-t.done; err != nil {
		return "", err
	}
	return StateTaken, nil
}

// wait waits for the take; ok is false when a termination signal came
// first (status is then boot's exit status).
func (h *holder) wait(sigs chan os.Signal) (t heldTake, status int, ok bool) {
	for {
		select {
		case t = <-h.reqs:
			return t, 0, true
		case sig := <-sigs:
			if sig == syscall.SIGCHLD {
				continue // nothing of boot's runs yet
			}
			return t, 128 + int(sig.(syscall.Signal)), false
		}
	}
}

// apply does the part of a take that needs boot's CAP_SYS_ADMIN, in the
// sandbox's root: the pids limit and the pod's hostname (the pod's UTS
// namespace, and /etc/hostname, which the kubelet's file binds).
func (r TakeRequest) apply() error {
	if r.Pids > 0 {
		if err := setPids(r.Pids); err != nil {
			return fmt.Errorf("pids limit: %w", err)
		}
	}
	if r.Hostname == "" {
		return nil
	}
	if err := unix.Sethostname([]byte(r.Hostname)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := os.WriteFile("/etc/hostname", []byte(r.Hostname+"\n"), 0o644); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	return nil
}

// env is init's environment: boot's (the image's and the pod's token)
// with the request's on top.
func (r TakeRequest) env() []string {
	env := os.Environ()
	for _, k := range slices.Sorted(maps.Keys(r.Env)) {
		env = append(env, k+"="+r.Env[k])
	}
	return env
}
