package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

// malformed is one bad request and what its answer must say.
type malformed struct {
	name, method, path string
	body               string
	big                int64 // a body of this many bytes: body, then 'a's
	status             int   // 0: any 4xx
	says               string
}

// TestMalformedRequests replays a corpus of malformed requests (wrong
// types, huge and negative sizes, control characters, 100 MB bodies, deep
// JSON nesting, bad path parameters) against a real server, native and
// compatible faces alike: every answer is a 4xx whose message names the
// field, within seconds; the server never answers 5xx, never dies and
// never holds a body in memory.
func TestMalformedRequests(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")
	id := sb.ID
	deep := strings.Repeat("[", 100_000)
	deepObj := strings.Repeat(`{"a":`, 50_000) + "1" + strings.Repeat("}", 50_000)
	cases := []malformed{
		// Native control plane: wrong types, sizes, characters, shapes.
		{"create name wrong type", "POST", "/v1/sandboxes", `{"name": 5}`, 0, 400, "name"},
		{"create timeout wrong type", "POST", "/v1/sandboxes", `{"timeoutSeconds": "ten"}`, 0, 400, "timeoutSeconds"},
		{"create negative memory", "POST", "/v1/sandboxes", `{"resources": {"memoryMB": -1}}`, 0, 400, "memoryMB"},
		{"create huge cpu", "POST", "/v1/sandboxes", `{"resources": {"cpu": 1e999}}`, 0, 400, "cpu"},
		{"create huge disk", "POST", "/v1/sandboxes", `{"resources": {"diskMB": 99999999999999999999}}`, 0, 400, "diskMB"},
		{"create negative timeout", "POST", "/v1/sandboxes", `{"timeoutSeconds": -5}`, 0, 400, "timeoutSeconds"},
		{"create NUL in name", "POST", "/v1/sandboxes", `{"name": "a\u0000b"}`, 0, 400, "name"},
		{"create escape in name", "POST", "/v1/sandboxes", `{"name": "\u001b[2Jx"}`, 0, 400, "name"},
		{"create newline in metadata key", "POST", "/v1/sandboxes", `{"metadata": {"k\n": "v"}}`, 0, 400, "metadata"},
		{"create bad env name", "POST", "/v1/sandboxes", `{"env": {"A=B": "x"}}`, 0, 400, "env"},
		{"create bad CIDR", "POST", "/v1/sandboxes", `{"network": {"allowCIDRs": ["300.1.1.1/8"]}}`, 0, 400, "allowCIDRs"},
		{"create unknown field", "POST", "/v1/sandboxes", `{"nmae": "x"}`, 0, 400, "nmae"},
		{"create empty field name", "POST", "/v1/sandboxes", `{"": "x"}`, 0, 400, "empty name"},
		{"create not an object", "POST", "/v1/sandboxes", `["name"]`, 0, 400, "JSON object"},
		{"create trailing data", "POST", "/v1/sandboxes", `{} {}`, 0, 400, "after the JSON object"},
		{"create invalid UTF-8", "POST", "/v1/sandboxes", "{\"name\": \"\xff\xfe\"}", 0, 400, "name"},
		{"create deep arrays", "POST", "/v1/sandboxes", deep, 0, 400, "JSON"},
		{"create deep objects", "POST", "/v1/sandboxes", deepObj, 0, 400, "JSON"},
		{"create 100 MB", "POST", "/v1/sandboxes", `{"name": "`, 100 << 20, 400, "larger than"},
		{"metadata wrong type", "PATCH", "/v1/sandboxes/" + id + "/metadata", `{"k": 5}`, 0, 400, "k"},
		{"timeout wrong type", "PUT", "/v1/sandboxes/" + id + "/timeout", `{"timeoutSeconds": [1]}`, 0, 400, "timeoutSeconds"},
		{"renew bad time", "POST", "/v1/sandboxes/" + id + "/renew-expiration", `{"expiresAt": "tomorrow"}`, 0, 400, "expiresAt"},
		{"network wrong type", "PUT", "/v1/sandboxes/" + id + "/network", `{"internet": "yes"}`, 0, 400, "internet"},
		{"list negative page size", "GET", "/v1/sandboxes?pageSize=-1", "", 0, 400, "pageSize"},
		{"list huge page size", "GET", "/v1/sandboxes?pageSize=99999999999999999999", "", 0, 400, "pageSize"},
		{"list page zero", "GET", "/v1/sandboxes?page=0", "", 0, 400, "page"},
		{"list bad state", "GET", "/v1/sandboxes?state=%01", "", 0, 400, "state"},
		{"list broken query", "GET", "/v1/sandboxes?a=%zz", "", 0, 400, "query"},
		{"get NUL id", "GET", "/v1/sandboxes/a%00b", "", 0, 404, "not found"},
		{"wait not a bool", "POST", "/v1/sandboxes?wait=maybe", `{}`, 0, 400, "wait"},
		{"pull wrong type", "POST", "/v1/images/pull", `{"ref": ["busybox"]}`, 0, 400, "ref"},
		{"pull bad ref", "POST", "/v1/images/pull", `{"ref": "UP::per//"}`, 0, 400, "ref"},
		{"webhook wrong type", "POST", "/v1/webhooks", `{"url": 5}`, 0, 400, "url"},
		{"webhook 100 MB", "POST", "/v1/webhooks", `{"url": "http://x/`, 100 << 20, 400, "larger than"},
		{"settings wrong type", "PATCH", "/v1/organization/settings", `{"defaultAutoStopMinutes": "x"}`, 0, 400, "defaultAutoStopMinutes"},
		{"api key wrong type", "POST", "/v1/api-keys", `{"name": ["x"]}`, 0, 400, "name"},
		{"port out of range", "GET", "/v1/sandboxes/" + id + "/ports/99999/", "", 0, 400, "port"},
		{"port negative", "GET", "/v1/sandboxes/" + id + "/ports/-1/", "", 0, 400, "port"},
		{"port not a number", "GET", "/v1/sandboxes/" + id + "/ports/http/", "", 0, 400, "port"},
		// The agent's routes: the same, through the forwarder.
		{"exec command wrong type", "POST", "/v1/sandboxes/" + id + "/exec", `{"command": "ls"}`, 0, 400, "command"},
		{"exec empty command", "POST", "/v1/sandboxes/" + id + "/exec", `{"command": []}`, 0, 400, "command"},
		{"exec deep", "POST", "/v1/sandboxes/" + id + "/exec", deep, 0, 400, "JSON"},
		{"exec 100 MB", "POST", "/v1/sandboxes/" + id + "/exec", `{"command": ["echo", "`, 100 << 20, 400, "larger than"},
		{"files NUL path", "GET", "/v1/sandboxes/" + id + "/files?path=/tmp/a%00b", "", 0, 400, "path"},
		{"files climb", "GET", "/v1/sandboxes/" + id + "/files?path=/../../etc/shadow", "", 0, 400, "path"},
		{"move root", "POST", "/v1/sandboxes/" + id + "/files/move", `{"from": "/", "to": "/moved"}`, 0, 400, "from"},
		{"move a mount point", "POST", "/v1/sandboxes/" + id + "/files/move", `{"from": "/proc", "to": "/proc2"}`, 0, 409, "/proc"},
		{"remove root", "DELETE", "/v1/sandboxes/" + id + "/files?path=/&recursive=true", "", 0, 400, "root"},
		{"remove a mount point", "DELETE", "/v1/sandboxes/" + id + "/files?path=/proc", "", 0, 409, "/proc"},
		{"mkdir wrong type", "POST", "/v1/sandboxes/" + id + "/files/mkdir", `{"path": 5}`, 0, 400, "path"},
		{"chmod bad mode", "POST", "/v1/sandboxes/" + id + "/files/chmod", `{"path": "/tmp", "mode": "999"}`, 0, 400, "mode"},
		{"list negative depth", "GET", "/v1/sandboxes/" + id + "/files/list?path=/&depth=-1", "", 0, 400, "depth"},
		{"archive climb", "GET", "/v1/sandboxes/" + id + "/files/archive?path=/../../etc", "", 0, 400, "path"},
		{"archive bad name", "GET", "/v1/sandboxes/" + id + "/files/archive?path=/etc&name=../x", "", 0, 400, "name"},
		{"archive not a tar", "PUT", "/v1/sandboxes/" + id + "/files/archive?path=/tmp/in", "not a tar at all", 0, 400, "body"},
		{"archive onto a file", "PUT", "/v1/sandboxes/" + id + "/files/archive?path=/etc/hostname", "", 0, 400, "path"},
		{"process bad pid", "GET", "/v1/sandboxes/" + id + "/processes/abc", "", 0, 400, "pid"},
		{"process huge pid", "GET", "/v1/sandboxes/" + id + "/processes/99999999999999999999", "", 0, 400, "pid"},
		{"signal bad pid", "POST", "/v1/sandboxes/" + id + "/processes/-7/signal", `{"signal": "KILL"}`, 0, 400, "pid"},
		{"stdin 100 MB", "POST", "/v1/sandboxes/" + id + "/processes/1/stdin", `{"data": "`, 100 << 20, 0, ""},
		{"context bad language", "POST", "/v1/sandboxes/" + id + "/contexts", `{"language": 5}`, 0, 400, "language"},
		// Compatible faces: their own envelopes, the same rules.
		{"e2b create wrong type", "POST", "/compat/e2b/sandboxes", `{"templateID": "base", "timeout": "x"}`, 0, 400, "timeout"},
		{"e2b create 100 MB", "POST", "/compat/e2b/sandboxes", `{"templateID": "`, 100 << 20, 400, "larger than"},
		{"e2b create deep", "POST", "/compat/e2b/sandboxes", deep, 0, 400, "JSON"},
		{"daytona create wrong type", "POST", "/compat/daytona/sandbox", `{"cpu": "lots"}`, 0, 400, "cpu"},
		{"opensandbox create wrong type", "POST", "/compat/opensandbox/v1/sandboxes", `{"timeout": "x"}`, 0, 400, "timeout"},
		{"hopx create wrong type", "POST", "/compat/hopx/v1/sandboxes", `{"template_name": 5}`, 0, 400, "template_name"},
	}
	pid := s.cmd.Process.Pid
	client := &http.Client{Timeout: time.Minute}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := send(t, client, s, c)
			if status >= 500 || status < 400 || (c.status != 0 && status != c.status) {
				t.Fatalf("%s %s: %d %s, want %s", c.method, c.path, status, body, wantStatus(c.status))
			}
			if !strings.Contains(body, c.says) {
				t.Fatalf("%s %s: %d %s, want the answer to name %q", c.method, c.path, status, body, c.says)
			}
		})
	}
	if !s.answering() {
		t.Fatal("the server stopped answering")
	}
	if hwm := peakRSS(t, pid); hwm > 300<<20 {
		t.Errorf("the server's peak memory reached %d MB after the corpus, want bodies streamed, not held", hwm>>20)
	} else {
		t.Logf("server peak RSS after the corpus: %d MB", hwm>>20)
	}
}

func wantStatus(s int) string {
	if s == 0 {
		return "a 4xx"
	}
	return strconv.Itoa(s)
}

// send makes one request with every face's key header set. A 100 MB body
// is streamed from a generator; a server that answers early and closes
// may reset the upload, in which case the answer is read off the wire.
func send(t *testing.T, client *http.Client, s *server, c malformed) (int, string) {
	t.Helper()
	var body io.Reader = strings.NewReader(c.body)
	size := int64(len(c.body))
	if c.big > 0 {
		body, size = io.MultiReader(strings.NewReader(c.body), io.LimitReader(repeatReader('a'), c.big-int64(len(c.body)))), c.big
	}
	if c.method == "GET" || c.method == "DELETE" {
		body, size = nil, 0
	}
	if c.big > 0 {
		return rawSend(t, s, c.method, c.path, body, size)
	}
	req, err := http.NewRequest(c.method, s.url+c.path, body)
	if err != nil {
		// A path the client refuses to send (it is checked on the raw
		// connection instead).
		return rawSend(t, s, c.method, c.path, body, size)
	}
	req.ContentLength = size
	for _, h := range []string{"Authorization", "X-API-KEY", "OPEN-SANDBOX-API-KEY"} {
		v := s.key
		if h == "Authorization" {
			v = "Bearer " + s.key
		}
		req.Header.Set(h, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// rawSend writes the request on a plain connection while reading the
// answer, so that an answer sent before the body is over is still seen.
func rawSend(t *testing.T, s *server, method, path string, body io.Reader, size int64) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-API-KEY: %s\r\nOPEN-SANDBOX-API-KEY: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		method, path, s.key, s.key, s.key, size)
	go func() {
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		if body != nil {
			_, _ = io.Copy(c, body)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: no answer: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// peakRSS is a process's high-water mark of resident memory.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestBodyLimitOnEveryRoute sends a 100 MB body to every route of the
// native API that takes one: each answers (a 4xx, or a 2xx where 100 MB is
// a legitimate upload) without a 5xx, and the server never holds it.
func TestBodyLimitOnEveryRoute(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")
	routes, err := api.Routes()
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{id}", sb.ID, "{port}", "8000", "{pid}", "1", "{ctx}", "ctx_x", "{path}", "x")
	for _, r := range routes {
		if r.Method == "GET" || r.Method == "DELETE" || r.Method == "HEAD" || r.Method == "OPTIONS" {
			continue
		}
		// Lifecycle actions read no body (and would stop the sandbox the
		// agent routes need); a proxied body is the sandbox app's own.
		if strings.Contains(r.Path, "/ports/{port}/{path}") || lifecycleAction(r.Path) {
			continue
		}
		path := fill.Replace(r.Path)
		if strings.Contains(r.Path, "/files") && r.Method != "POST" || strings.HasSuffix(r.Path, "/files/upload") {
			path += "?path=/tmp/big"
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			start := time.Now()
			status, body := rawSend(t, s, r.Method, path, io.LimitReader(repeatReader('{'), 100<<20), 100<<20)
			if status >= 500 {
				t.Fatalf("%d %s", status, body)
			}
			t.Logf("%d in %v", status, time.Since(start).Round(time.Millisecond))
		})
	}
	if !s.answering() {
		t.Fatal("the server stopped answering")
	}
	if hwm := peakRSS(t, s.cmd.Process.Pid); hwm > 300<<20 {
		t.Errorf("the server's peak memory reached %d MB, want bodies streamed", hwm>>20)
	}
}

func lifecycleAction(path string) bool {
	for _, a := range []string{"pause", "resume", "stop", "start", "archive"} {
		if strings.HasSuffix(path, "/{id}/"+a) {
			return true
		}
	}
	return false
}
