package e2b

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/compat/compattest"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// domain is the per-sandbox host domain of the test server.
const domain = "sb.test"

// env is one server with the E2B face mounted: a real SQLite store, the
// runtime double with a real agent, a "base" image in the cache, and two
// organisations.
type env struct {
	t        *testing.T
	url      string
	key      string // admin key of the default organisation
	org      string // the default organisation
	otherKey string // admin key of another organisation
	svc      *sandbox.Service
	rt       *compattest.Runtime
	deps     compat.Deps
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := compattest.NewStack(t, compattest.WithDomain(domain))
	if _, err := st.Images.ImportRootfs(t.Context(), rootfsTar(t, t.TempDir()), "base", image.Config{}); err != nil {
		t.Fatal(err)
	}
	url := st.Serve(st.Router(Mount))
	return &env{t: t, url: url, key: st.Key, org: st.OrgID, otherKey: st.OtherKey, svc: st.Svc, rt: st.RT, deps: st.Deps}
}

// rootfsTar writes a one-file root filesystem to import as "base".
func rootfsTar(t *testing.T, dir string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("base\n")
	if err := tw.WriteHeader(&tar.Header{Name: "etc/hostname", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	tw.Close()
	path := filepath.Join(dir, "base.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// e2bError decodes E2B's error body, failing unless its numeric code is
// the status.
func (r response) e2bError(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	r.json(t, &e)
	if e.Code != r.status || e.Message == "" {
		t.Fatalf("not E2B's error body for %d: %s", r.status, r.body)
	}
	return e
}

// do sends a request to path below the server with headers; body may be
// a string (sent raw), an io.Reader (sent chunked) or a value (JSON).
func (e *env) do(method, path string, headers map[string]string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
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
	if _, ok := body.(io.Reader); ok {
		req.ContentLength = -1 // chunked, as the SDK sends control bodies
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
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
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// api calls the control API with key.
func (e *env) api(method, path, key string, body any) response {
	e.t.Helper()
	return e.do(method, Prefix+path, map[string]string{"X-API-KEY": key}, body)
}

// must calls the control API as the default organisation and fails the
// test unless the status is want.
func (e *env) must(want int, method, path string, body any) response {
	e.t.Helper()
	r := e.api(method, path, e.key, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// create makes a sandbox and returns its create answer.
func (e *env) create(body map[string]any) sandboxJSON {
	e.t.Helper()
	var sb sandboxJSON
	e.must(http.StatusCreated, "POST", "/v2/sandboxes", body).json(e.t, &sb)
	return sb
}
