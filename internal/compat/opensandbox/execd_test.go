package opensandbox_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/compat/opensandbox"
	"github.com/hutchdev/hutch/internal/poll"
)

// execd is the path of an execd route of sandbox id.
func execd(id, path string) string { return "/sandboxes/" + id + "/port/44772" + path }

type streamEvent struct {
	Type          string            `json:"type"`
	Text          string            `json:"text"`
	ExecutionTime *int64            `json:"execution_time"`
	Results       map[string]string `json:"results"`
	Error         *struct {
		Ename     string   `json:"ename"`
		Evalue    string   `json:"evalue"`
		Traceback []string `json:"traceback"`
	} `json:"error"`
}

// events reads an execd event stream the way the SDK does: data lines.
func events(t *testing.T, body io.Reader) []streamEvent {
	t.Helper()
	var out []streamEvent
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev streamEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// run posts a command and returns its events.
func (e *env) run(id string, body map[string]any) []streamEvent {
	e.t.Helper()
	r := e.must(http.StatusOK, "POST", execd(id, "/command"), body, "Accept", "text/event-stream")
	if ct := r.header.Get("Content-Type"); ct != "text/event-stream" {
		e.t.Fatalf("content type %q", ct)
	}
	return events(e.t, bytes.NewReader(r.body))
}

func joined(evs []streamEvent, typ string) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Type == typ {
			b.WriteString(ev.Text)
		}
	}
	return b.String()
}

// TestExecdCommands: a foreground command streams init, its output and
// execution_complete, or an error event whose evalue is the exit code;
// a background one answers its id at once and is then polled for status
// and logs by line cursor, and interrupted.
func TestExecdCommands(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	r := e.must(http.StatusOK, "GET", execd(id, "/ping"), nil)
	if len(r.body) != 0 {
		t.Fatalf("ping body %q", r.body)
	}

	evs := e.run(id, map[string]any{"command": "echo hello; echo oops >&2", "cwd": e.dir, "envs": map[string]string{"X": "y"}})
	if len(evs) < 4 || evs[0].Type != "init" || !strings.HasPrefix(evs[0].Text, "cmd-") || evs[len(evs)-1].Type != "execution_complete" {
		t.Fatalf("events %+v", evs)
	}
	if joined(evs, "stdout") != "hello\n" || joined(evs, "stderr") != "oops\n" || evs[len(evs)-1].ExecutionTime == nil {
		t.Fatalf("output %+v", evs)
	}
	var st struct {
		ID       string `json:"id"`
		Content  string `json:"content"`
		Running  bool   `json:"running"`
		ExitCode *int   `json:"exit_code"`
	}
	e.must(http.StatusOK, "GET", execd(id, "/command/status/"+evs[0].Text), nil).decode(t, &st)
	if st.Running || st.ExitCode == nil || *st.ExitCode != 0 || st.Content != "echo hello; echo oops >&2" {
		t.Fatalf("foreground status %+v", st)
	}

	evs = e.run(id, map[string]any{"command": "echo before; exit 3"})
	last := evs[len(evs)-1]
	if joined(evs, "stdout") != "before\n" || last.Type != "error" || last.Error.Evalue != "3" {
		t.Fatalf("exit 3: %+v", evs)
	}
	evs = e.run(id, map[string]any{"command": "echo $X-$0", "envs": map[string]string{"X": "env"}})
	if out := joined(evs, "stdout"); out != "env-bash\n" && out != "env-sh\n" {
		t.Fatalf("envs: %q", out)
	}
	evs = e.run(id, map[string]any{"command": "sleep 5", "timeout": 300})
	if last := evs[len(evs)-1]; last.Type != "error" || last.Error.Ename != "TimeoutError" {
		t.Fatalf("timeout: %+v", evs)
	}

	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"command": " "}, "command"},
		{map[string]any{"command": "true", "cwd": filepath.Join(e.dir, "nowhere")}, "cwd"},
		{map[string]any{"command": "true", "gid": 5}, "uid"},
		{map[string]any{"command": "true", "uid": 5, "gid": 6}, "gid"},
		{map[string]any{"command": "true", "timeout": -1}, "timeout"},
	} {
		r := e.request("POST", execd(id, "/command"), e.key, c.body)
		if code, msg := r.errBody(t); r.status != 400 || code != "INVALID_REQUEST_BODY" || !strings.Contains(msg, c.field) {
			t.Errorf("%v: %d %s", c.body, r.status, r.body)
		}
	}

	evs = e.run(id, map[string]any{"command": "echo one; echo two; sleep 0.3; printf three", "background": true})
	if len(evs) != 2 || evs[0].Type != "init" || evs[1].Type != "execution_complete" {
		t.Fatalf("background: %+v", evs)
	}
	bg := evs[0].Text
	if _, err := strconv.Atoi(bg); err != nil {
		t.Fatalf("background id %q", bg)
	}
	poll.Until(t, "background command ends", func() bool {
		e.must(http.StatusOK, "GET", execd(id, "/command/status/"+bg), nil).decode(t, &st)
		return !st.Running
	})
	if st.ExitCode == nil || *st.ExitCode != 0 || st.Content != "echo one; echo two; sleep 0.3; printf three" {
		t.Fatalf("background status %+v", st)
	}
	r = e.must(http.StatusOK, "GET", execd(id, "/command/"+bg+"/logs"), nil)
	if string(r.body) != "one\ntwo\nthree" || r.header.Get("EXECD-COMMANDS-TAIL-CURSOR") != "3" {
		t.Fatalf("logs %q cursor %q", r.body, r.header.Get("EXECD-COMMANDS-TAIL-CURSOR"))
	}
	r = e.must(http.StatusOK, "GET", execd(id, "/command/"+bg+"/logs?cursor=2"), nil)
	if string(r.body) != "three" || r.header.Get("EXECD-COMMANDS-TAIL-CURSOR") != "3" {
		t.Fatalf("logs from line 2: %q cursor %q", r.body, r.header.Get("EXECD-COMMANDS-TAIL-CURSOR"))
	}

	evs = e.run(id, map[string]any{"command": "sleep 30", "background": true})
	e.must(http.StatusOK, "DELETE", execd(id, "/command?id="+evs[0].Text), nil)
	poll.Until(t, "interrupted background command ends", func() bool {
		e.must(http.StatusOK, "GET", execd(id, "/command/status/"+evs[0].Text), nil).decode(t, &st)
		return !st.Running
	})

	for _, path := range []string{"/command/status/cmd-nope", "/command/status/999999", "/command/cmd-nope/logs"} {
		r := e.request("GET", execd(id, path), e.key, nil)
		if code, _ := r.errBody(t); r.status != 404 || code != "COMMAND_NOT_FOUND" {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	r = e.request("DELETE", execd(id, "/command?id=cmd-nope"), e.key, nil)
	if r.status != 404 {
		t.Errorf("interrupt of nothing: %d %s", r.status, r.body)
	}
}

// TestExecdInterruptForeground: init comes at once, before any output, so
// that DELETE /command can end a streaming command, whose stream then
// ends with an error event.
func TestExecdInterruptForeground(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	body, _ := json.Marshal(map[string]any{"command": "sleep 30"})
	req, _ := http.NewRequest("POST", e.url+execd(id, "/command"), bytes.NewReader(body))
	req.Header.Set(opensandbox.KeyHeader, e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var first streamEvent
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			json.Unmarshal([]byte(line), &first)
			break
		}
	}
	if first.Type != "init" {
		t.Fatalf("first event %+v", first)
	}
	start := time.Now()
	e.must(http.StatusOK, "DELETE", execd(id, "/command?id="+url.QueryEscape(first.Text)), nil)
	rest := events(t, resp.Body)
	if last := rest[len(rest)-1]; last.Type != "error" || last.Error.Ename != "CommandInterrupted" {
		t.Fatalf("after the interrupt: %+v", rest)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the interrupted command ran on")
	}
}

// multipartUpload builds the SDK's upload body: a metadata part, then its
// file part, for each file.
func multipartUpload(t *testing.T, files ...[2]string) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		meta, _ := mw.CreateFormFile("metadata", "metadata")
		io.WriteString(meta, f[0])
		part, _ := mw.CreateFormFile("file", filepath.Base(f[0]))
		io.WriteString(part, f[1])
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// TestExecdFiles: upload (multipart), download (raw, ranges, lines),
// info, directories, search, move, replace, permissions and removal.
func TestExecdFiles(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	a, b := filepath.Join(e.dir, "sub", "a.txt"), filepath.Join(e.dir, "b.txt")
	ct, body := multipartUpload(t,
		[2]string{fmt.Sprintf(`{"path": %q, "mode": 600}`, a), "hello world\nline 2\nline 3\n"},
		[2]string{fmt.Sprintf(`{"path": %q}`, b), "bee"})
	e.must(http.StatusOK, "POST", execd(id, "/files/upload"), body, "Content-Type", ct)

	if r := e.must(http.StatusOK, "GET", execd(id, "/files/download?path="+url.QueryEscape(a)), nil); string(r.body) != "hello world\nline 2\nline 3\n" {
		t.Fatalf("download %q", r.body)
	}
	r := e.must(http.StatusPartialContent, "GET", execd(id, "/files/download?path="+url.QueryEscape(a)), nil, "Range", "bytes=0-4")
	if string(r.body) != "hello" || r.header.Get("Content-Range") != "bytes 0-4/26" {
		t.Fatalf("range: %q %q", r.body, r.header.Get("Content-Range"))
	}
	if r := e.must(http.StatusPartialContent, "GET", execd(id, "/files/download?path="+url.QueryEscape(a)), nil, "Range", "bytes=-7"); string(r.body) != "line 3\n" {
		t.Fatalf("suffix range %q", r.body)
	}
	r = e.request("GET", execd(id, "/files/download?path="+url.QueryEscape(a)), e.key, nil, "Range", "bytes=100-")
	if r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d", r.status)
	}
	r.errBody(t)
	if r := e.must(http.StatusOK, "GET", execd(id, "/files/download?offset=2&limit=1&path="+url.QueryEscape(a)), nil); string(r.body) != "line 2\n" {
		t.Fatalf("lines %q", r.body)
	}
	r = e.request("GET", execd(id, "/files/download?path="+url.QueryEscape(filepath.Join(e.dir, "none"))), e.key, nil)
	if code, _ := r.errBody(t); r.status != 404 || code != "FILE_NOT_FOUND" {
		t.Fatalf("missing file: %d %s", r.status, r.body)
	}

	var info map[string]struct {
		Path       string    `json:"path"`
		Type       string    `json:"type"`
		Size       int64     `json:"size"`
		Mode       int       `json:"mode"`
		ModifiedAt time.Time `json:"modified_at"`
	}
	e.must(http.StatusOK, "GET", execd(id, "/files/info?path="+url.QueryEscape(a)+"&path="+url.QueryEscape(b)), nil).decode(t, &info)
	if i := info[a]; i.Type != "file" || i.Size != 26 || i.Mode != 600 || i.ModifiedAt.IsZero() {
		t.Fatalf("info of a: %+v", i)
	}
	if i := info[b]; i.Mode != 644 || i.Size != 3 {
		t.Fatalf("info of b: %+v", i)
	}

	d := filepath.Join(e.dir, "made", "deep")
	e.must(http.StatusOK, "POST", execd(id, "/directories"), map[string]any{d: map[string]any{"mode": 700}})
	if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("made %v %v", fi, err)
	}
	var list []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	e.must(http.StatusOK, "GET", execd(id, "/directories/list?depth=2&path="+url.QueryEscape(e.dir)), nil).decode(t, &list)
	var names []string
	for _, l := range list {
		names = append(names, strings.TrimPrefix(l.Path, e.dir)+":"+l.Type)
	}
	if want := "/b.txt:file /made:directory /made/deep:directory /sub:directory /sub/a.txt:file"; strings.Join(names, " ") != want {
		t.Fatalf("list: %v", names)
	}
	var found []struct{ Path string }
	e.must(http.StatusOK, "GET", execd(id, "/files/search?pattern="+url.QueryEscape("**/*.txt")+"&path="+url.QueryEscape(e.dir)), nil).decode(t, &found)
	if len(found) != 2 {
		t.Fatalf("search: %+v", found)
	}

	c := filepath.Join(e.dir, "c.txt")
	e.must(http.StatusOK, "POST", execd(id, "/files/mv"), []map[string]string{{"src": b, "dest": c}})
	var counts map[string]struct{ ReplacedCount int }
	e.must(http.StatusOK, "POST", execd(id, "/files/replace?verbose=true"), map[string]any{a: map[string]string{"old": "line", "new": "row"}}).decode(t, &counts)
	if got, _ := os.ReadFile(a); counts[a].ReplacedCount != 2 || string(got) != "hello world\nrow 2\nrow 3\n" {
		t.Fatalf("replace: %+v %q", counts, got)
	}
	if fi, _ := os.Stat(a); fi.Mode().Perm() != 0o600 {
		t.Fatalf("replace changed the mode to %v", fi.Mode())
	}
	e.must(http.StatusOK, "POST", execd(id, "/files/replace"), map[string]any{a: map[string]string{"old": "row", "new": "line"}})
	e.must(http.StatusOK, "POST", execd(id, "/files/permissions"), map[string]any{c: map[string]any{"mode": 755}})
	if fi, _ := os.Stat(c); fi.Mode().Perm() != 0o755 {
		t.Fatalf("chmod: %v", fi.Mode())
	}
	r = e.request("POST", execd(id, "/files/permissions"), e.key, map[string]any{c: map[string]any{"mode": 799}})
	if _, msg := r.errBody(t); r.status != 400 || !strings.Contains(msg, "mode") {
		t.Fatalf("mode 799: %d %s", r.status, r.body)
	}

	r = e.request("DELETE", execd(id, "/files?path="+url.QueryEscape(d)), e.key, nil)
	if r.status != 400 {
		t.Fatalf("DELETE /files of a directory: %d %s", r.status, r.body)
	}
	e.must(http.StatusOK, "DELETE", execd(id, "/files?path="+url.QueryEscape(c)), nil)
	e.must(http.StatusOK, "DELETE", execd(id, "/directories?path="+url.QueryEscape(filepath.Join(e.dir, "made"))), nil)
	if _, err := os.Stat(c); !os.IsNotExist(err) {
		t.Fatalf("c.txt still there: %v", err)
	}
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Fatalf("made/ still there: %v", err)
	}

	for _, bad := range [][2]string{{"no metadata", ""}, {`{"mode": 644}`, "x"}} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		if bad[1] == "" {
			part, _ := mw.CreateFormFile("file", "f")
			io.WriteString(part, "x")
		} else {
			meta, _ := mw.CreateFormFile("metadata", "metadata")
			io.WriteString(meta, bad[0])
		}
		mw.Close()
		r := e.request("POST", execd(id, "/files/upload"), e.key, buf.Bytes(), "Content-Type", mw.FormDataContentType())
		if r.status != 400 {
			t.Errorf("upload %q: %d %s", bad[0], r.status, r.body)
		}
		r.errBody(t)
	}
}

// TestExecdRefusedUnlessRunning: execd of a paused sandbox, or of one not
// up yet, answers at once with a 409 and a body; after resume it works.
func TestExecdRefusedUnlessRunning(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+id+"/pause", nil)
	e.waitState(id, "Paused")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/ping", nil},
		{"POST", "/command", map[string]string{"command": "echo no"}},
		{"GET", "/files/download?path=/etc/hostname", nil},
		{"POST", "/files/upload", "x"},
		{"GET", "/metrics", nil},
	} {
		start := time.Now()
		r := e.request(c.method, execd(id, c.path), e.key, c.body)
		if code, _ := r.errBody(t); r.status != http.StatusConflict || code != "SANDBOX_PAUSED" {
			t.Errorf("%s %s while paused: %d %s", c.method, c.path, r.status, r.body)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s %s took %v to refuse", c.method, c.path, time.Since(start))
		}
	}
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+id+"/resume", nil)
	e.waitState(id, "Running")
	e.must(http.StatusOK, "GET", execd(id, "/ping"), nil)

	release := e.rt.BlockCreate()
	defer release()
	var sb sandboxJSON
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes", sdkCreate(nil)).decode(t, &sb)
	r := e.request("GET", execd(sb.ID, "/ping"), e.key, nil)
	if code, _ := r.errBody(t); r.status != http.StatusConflict || code != "INVALID_STATE" {
		t.Fatalf("ping while Pending: %d %s", r.status, r.body)
	}
}

// TestExecdCodeAndUnsupported: the isolation capabilities say none; what
// Hutch does not do is the vendor's "not supported"; unknown routes 404.
func TestExecdCodeAndUnsupported(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	var caps map[string]bool
	e.must(http.StatusOK, "GET", execd(id, "/v1/isolated/capabilities"), nil).decode(t, &caps)
	if len(caps) == 0 || caps["available"] {
		t.Fatalf("capabilities %v", caps)
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/session", 501},
		{"POST", "/session/s1/run", 501},
		{"DELETE", "/session/s1", 501},
		{"POST", "/v1/isolated/session", 501},
		{"DELETE", "/code?id=x", 501},
		{"GET", "/nothing", 404},
		{"GET", "/code/contexts/nope", 404},
		{"POST", "/code/context", 400}, // bash is not a context language here
	} {
		var body any
		if c.path == "/code/context" {
			body = map[string]string{"language": "bash"}
		}
		r := e.request(c.method, execd(id, c.path), e.key, body)
		if r.status != c.status {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
		r.errBody(t)
	}
	var ctxs []any
	e.must(http.StatusOK, "GET", execd(id, "/code/contexts?language=python"), nil).decode(t, &ctxs)
	if ctxs == nil || len(ctxs) != 0 {
		t.Fatalf("contexts %v", ctxs)
	}
}

// TestPortProxy: another port's endpoint proxies to the sandbox's port,
// without the API key, and refuses a paused sandbox at once.
func TestPortProxy(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s key=%q prefix=%s", r.Method, r.URL.Path, r.Header.Get(opensandbox.KeyHeader), r.Header.Get("X-Forwarded-Prefix"))
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	port := u.Port()
	r := e.must(http.StatusOK, "POST", "/sandboxes/"+id+"/port/"+port+"/hello/world?x=1", "{}")
	if want := fmt.Sprintf(`POST /hello/world key="" prefix=/sandboxes/%s/port/%s`, id, port); string(r.body) != want {
		t.Fatalf("proxied: %q, want %q", r.body, want)
	}
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+id+"/pause", nil)
	e.waitState(id, "Paused")
	r = e.request("GET", "/sandboxes/"+id+"/port/"+port+"/", e.key, nil)
	if code, _ := r.errBody(t); r.status != http.StatusConflict || code != "SANDBOX_PAUSED" {
		t.Fatalf("paused: %d %s", r.status, r.body)
	}
}

// TestExecdCode: python contexts keep their state between runs, whose
// events carry the output, the last value by MIME type and exceptions.
func TestExecdCode(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed on this machine")
	}
	e := newEnv(t, false)
	id := e.create(nil)
	var c struct{ ID, Language string }
	e.must(http.StatusOK, "POST", execd(id, "/code/context"), map[string]string{"language": "python"}).decode(t, &c)
	if c.ID == "" || c.Language != "python" {
		t.Fatalf("context %+v", c)
	}
	code := func(body map[string]any) []streamEvent {
		t.Helper()
		r := e.must(http.StatusOK, "POST", execd(id, "/code"), body, "Accept", "text/event-stream")
		return events(t, bytes.NewReader(r.body))
	}
	ctx := map[string]string{"id": c.ID, "language": "python"}
	evs := code(map[string]any{"context": ctx, "code": "x = 40\nprint('set')\nx + 2"})
	var result string
	for _, ev := range evs {
		if ev.Type == "result" {
			result = ev.Results["text/plain"]
		}
	}
	if evs[0].Type != "init" || evs[0].Text != c.ID || joined(evs, "stdout") != "set\n" || result != "42" ||
		evs[len(evs)-1].Type != "execution_complete" {
		t.Fatalf("run: %+v", evs)
	}
	evs = code(map[string]any{"context": ctx, "code": "1/0"})
	if last := evs[len(evs)-1]; last.Type != "error" || last.Error.Ename != "ZeroDivisionError" || len(last.Error.Traceback) == 0 {
		t.Fatalf("exception: %+v", evs)
	}
	if evs := code(map[string]any{"context": ctx, "code": "print(x)"}); joined(evs, "stdout") != "40\n" {
		t.Fatalf("state lost: %+v", evs)
	}
	if evs := code(map[string]any{"code": "print('alone')"}); joined(evs, "stdout") != "alone\n" {
		t.Fatalf("without a context: %+v", evs)
	}
	var list []struct{ ID string }
	e.must(http.StatusOK, "GET", execd(id, "/code/contexts?language=python"), nil).decode(t, &list)
	if len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("contexts %+v (the one-off context must be gone)", list)
	}
	e.must(http.StatusOK, "GET", execd(id, "/code/contexts/"+c.ID), nil)
	e.must(http.StatusOK, "DELETE", execd(id, "/code/contexts/"+c.ID), nil)
	r := e.request("GET", execd(id, "/code/contexts/"+c.ID), e.key, nil)
	if code, _ := r.errBody(t); r.status != 404 || code != "CONTEXT_NOT_FOUND" {
		t.Fatalf("deleted context: %d %s", r.status, r.body)
	}
}

// TestExecdPauseEndsStreams: a pause ends a command stream in flight
// with an error event, instead of leaving it hanging on a frozen agent.
func TestExecdPauseEndsStreams(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	body, _ := json.Marshal(map[string]any{"command": "sleep 30"})
	req, _ := http.NewRequest("POST", e.url+execd(id, "/command"), bytes.NewReader(body))
	req.Header.Set(opensandbox.KeyHeader, e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+id+"/pause", nil)
	evs := events(t, resp.Body)
	if last := evs[len(evs)-1]; evs[0].Type != "init" || last.Type != "error" || last.Error.Ename != "SandboxPaused" {
		t.Fatalf("stream across a pause: %+v", evs)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the stream outlived the pause")
	}
}
