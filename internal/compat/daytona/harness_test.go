package daytona_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/compat/compattest"
	"github.com/hutchdev/hutch/internal/compat/daytona"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// env is the Daytona face served at the root of a loopback listener over
// a real SQLite store.
type env struct {
	t        *testing.T
	url      string
	key      string // admin key of the default organisation
	org      string // the default organisation
	otherKey string // key of a second organisation
	otherOrg string
	svc      *sandbox.Service
	deps     compat.Deps
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := compattest.NewStack(t)
	return &env{t: t, url: st.Serve(daytona.Handler(st.Deps)), key: st.Key, org: st.OrgID, otherKey: st.OtherKey, otherOrg: st.OtherOrg,
		svc: st.Svc, deps: st.Deps}
}

type response struct {
	status int
	header http.Header
	body   []byte
	closed bool // the server ended the connection after this answer
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// object decodes a JSON object body.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// errorBody is Daytona's error as the tests read it.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
	Code       string `json:"code"`
	Source     string `json:"source"`
}

func (r response) err(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	r.decode(t, &e)
	if e.StatusCode != r.status || e.Message == "" || e.Error != http.StatusText(r.status) || e.Source == "" {
		t.Fatalf("not Daytona's error body for %d: %s", r.status, r.body)
	}
	return e
}

// request sends body (nil, a string sent raw, or a value sent as JSON)
// with key as the Bearer token (none when empty).
func (e *env) request(method, path, key string, body any, header ...string) response {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
		ct = "application/x-www-form-urlencoded" // what the SDK sends with a bodiless POST
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, closed: resp.Close}
}

// must sends as the default organisation and fails unless the status is
// want.
func (e *env) must(want int, method, path string, body any) response {
	e.t.Helper()
	r := e.request(method, path, e.key, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// sandbox is the part of Daytona's Sandbox the tests look at.
type sandboxBody struct {
	ID                  string            `json:"id"`
	Name                string            `json:"name"`
	State               string            `json:"state"`
	DesiredState        string            `json:"desiredState"`
	Labels              map[string]string `json:"labels"`
	Env                 map[string]string `json:"env"`
	CPU                 float64           `json:"cpu"`
	Memory              float64           `json:"memory"`
	Disk                float64           `json:"disk"`
	NetworkBlockAll     bool              `json:"networkBlockAll"`
	NetworkAllowList    string            `json:"networkAllowList"`
	AutoStopInterval    int               `json:"autoStopInterval"`
	AutoPauseInterval   int               `json:"autoPauseInterval"`
	AutoArchiveInterval int               `json:"autoArchiveInterval"`
	AutoDeleteInterval  int               `json:"autoDeleteInterval"`
	AutoDestroyAt       string            `json:"autoDestroyAt"`
	Snapshot            string            `json:"snapshot"`
	ToolboxProxyURL     string            `json:"toolboxProxyUrl"`
}

func (r response) sandbox(t *testing.T) sandboxBody {
	t.Helper()
	var sb sandboxBody
	r.decode(t, &sb)
	return sb
}

// create makes a sandbox and waits until it is started.
func (e *env) create(body map[string]any) sandboxBody {
	e.t.Helper()
	sb := e.must(200, "POST", "/sandbox", body).sandbox(e.t)
	return e.waitState(sb.ID, "started")
}

// waitState polls GET /sandbox/{id} until the sandbox is in state, as the
// SDK does.
func (e *env) waitState(id, state string) sandboxBody {
	e.t.Helper()
	var sb sandboxBody
	poll.Until(e.t, id+" "+state, func() bool {
		sb = e.must(200, "GET", "/sandbox/"+id, nil).sandbox(e.t)
		return sb.State == state
	})
	return sb
}
