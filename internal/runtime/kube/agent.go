package kube

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// DialAgent connects to the sandbox's agent at its pod's address and
// presents the pod's token, which the agent checks before it serves: a
// connection from anywhere else (another pod) without the token is
// closed unanswered.
func (d *Driver) DialAgent(ctx context.Context, id string) (net.Conn, error) {
	k, err := key(id)
	if err != nil {
		return nil, err
	}
	pod, err := d.pod(ctx, k)
	if err != nil {
		return nil, err
	}
	if pod == nil || pod.DeletionTimestamp != nil || !podRunning(pod) {
		return nil, fmt.Errorf("sandbox %s is not running: %w", id, errdefs.ErrConflict)
	}
	return d.dialPod(ctx, pod)
}

func (d *Driver) dialPod(ctx context.Context, pod *corev1.Pod) (net.Conn, error) {
	token := podToken(pod)
	if pod.Status.PodIP == "" || token == "" {
		return nil, fmt.Errorf("pod %s has no address or agent token yet: %w", pod.Name, errdefs.ErrUnavailable)
	}
	c, err := d.cfg.Dial(ctx, "tcp", net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(d.cfg.AgentPort)))
	if err != nil {
		return nil, fmt.Errorf("dial the agent of %s: %w", pod.Name, err)
	}
	if _, err := c.Write(protocol.TokenLine(token)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// podToken is the agent token the pod's sandbox (or files) container
// was given.
func podToken(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name != containerSandbox && c.Name != containerFiles {
			continue
		}
		for _, e := range c.Env {
			if e.Name == protocol.TokenEnv {
				return e.Value
			}
		}
	}
	return ""
}

// healthz asks the pod's agent whether it serves.
func (d *Driver) healthz(ctx context.Context, pod *corev1.Pod) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := d.dialPod(ctx, pod)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://agent/healthz", nil)
	resp, _, err := roundTrip(ctx, c, req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("agent healthz: %s", resp.Status)
	}
	return nil
}

// roundTrip sends req on c, reads the whole answer and closes c.
func roundTrip(ctx context.Context, c net.Conn, req *http.Request) (*http.Response, []byte, error) {
	resp, err := send(ctx, c, req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// send writes req on c (its body streamed) and returns the answer, whose
// body's Close closes c; c is closed on error. ctx bounds the whole
// exchange, the body's reading included.
func send(ctx context.Context, c net.Conn, req *http.Request) (*http.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	done := func() { stop(); c.Close() }
	if err := req.Write(c); err != nil {
		done()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		done()
		return nil, fmt.Errorf("agent answer: %w", err)
	}
	resp.Body = closeBoth{resp.Body, done}
	return resp, nil
}

// closeBoth closes a body and then what carries it.
type closeBoth struct {
	io.ReadCloser
	after func()
}

func (c closeBoth) Close() error {
	err := c.ReadCloser.Close()
	c.after()
	return err
}

// Exec runs argv in the sandbox through its agent and returns its
// standard output followed by its standard error; a non-zero exit is an
// error.
func (d *Driver) Exec(ctx context.Context, id string, argv ...string) ([]byte, error) {
	c, err := d.DialAgent(ctx, id)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(api.ExecRequest{Command: argv})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://agent/exec", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, out, err := roundTrip(ctx, c, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("agent exec: %s: %s", resp.Status, bytes.TrimSpace(out))
	}
	var res api.ExecResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("agent exec answer: %w", err)
	}
	combined := []byte(res.Stdout + res.Stderr)
	if res.ExitCode != 0 {
		return combined, errors.New("exit status " + strconv.Itoa(res.ExitCode))
	}
	return combined, nil
}
