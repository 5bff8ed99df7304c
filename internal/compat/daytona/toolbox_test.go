package daytona_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/poll"
)

// toolbox is one sandbox's toolbox base path.
func (e *env) toolbox(id string) string { return "/toolbox/" + id }

func TestExecute(t *testing.T) {
	e := newEnv(t)
	tb := e.toolbox(e.create(map[string]any{}).ID)
	dir := t.TempDir()
	for _, c := range []struct {
		req    map[string]any
		code   float64
		result string
	}{
		{map[string]any{"command": "echo hello"}, 0, "hello\n"},
		{map[string]any{"command": `sh -c "echo before; exit 3"`}, 3, "before\n"},
		{map[string]any{"command": "echo err >&2"}, 0, "err\n"},
		{map[string]any{"command": "pwd", "cwd": dir}, 0, dir + "\n"},
		{map[string]any{"command": "echo $GREETING", "envs": map[string]string{"GREETING": "hi"}}, 0, "hi\n"},
	} {
		m := e.must(200, "POST", tb+"/process/execute", c.req).object(t)
		if m["exitCode"] != c.code || m["result"] != c.result {
			t.Errorf("%v: %v", c.req, m)
		}
	}
	r := e.request("POST", tb+"/process/execute", e.key, map[string]any{"command": "sleep 5", "timeout": 1})
	if r.status != 408 {
		t.Fatalf("timeout: %d %s", r.status, r.body)
	}
	if b := r.err(t); b.Code != "PROCESS_EXECUTION_TIMEOUT" || b.Source != "DAYTONA_DAEMON" {
		t.Fatalf("timeout body: %+v", b)
	}
	for _, body := range []any{map[string]any{}, `{"command": 5}`} {
		if r := e.request("POST", tb+"/process/execute", e.key, body); r.status != 400 || !strings.Contains(r.err(t).Message, "command") {
			t.Errorf("%v: %d %s", body, r.status, r.body)
		}
	}
	// The API's older toolbox form reaches the same toolbox.
	m := e.must(200, "POST", tb+"/toolbox/process/execute", map[string]any{"command": "echo old"}).object(t)
	if m["result"] != "old\n" {
		t.Fatalf("old path form: %v", m)
	}
	if d := e.must(200, "GET", tb+"/work-dir", nil).object(t); d["dir"] == "" {
		t.Fatalf("work-dir: %v", d)
	}
	if d := e.must(200, "GET", tb+"/user-home-dir", nil).object(t); d["dir"] == "" {
		t.Fatalf("user-home-dir: %v", d)
	}
	if r := e.request("POST", tb+"/lsp/start", e.key, map[string]any{"languageId": "python", "pathToProject": "/"}); r.status != 501 {
		t.Fatalf("lsp: %d %s", r.status, r.body)
	}
	if r := e.request("POST", "/toolbox/sbx_nope/process/execute", e.key, map[string]any{"command": "true"}); r.status != 404 {
		t.Fatalf("missing sandbox: %d", r.status)
	}
	if r := e.request("POST", tb+"/process/execute", "", map[string]any{"command": "true"}); r.status != 401 {
		t.Fatalf("toolbox without a key: %d", r.status)
	}
}

// multipartBody builds a multipart body of fields in order; a field whose
// name ends in ".file" or is "file" is a file part named after the path.
func multipartBody(t *testing.T, fields [][2]string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		var err error
		if strings.HasSuffix(f[0], ".file") || f[0] == "file" {
			var w io.Writer
			if w, err = mw.CreateFormFile(f[0], "blob"); err == nil {
				_, err = io.WriteString(w, f[1])
			}
		} else {
			err = mw.WriteField(f[0], f[1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func (e *env) upload(path, contentType string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestFiles(t *testing.T) {
	e := newEnv(t)
	tb := e.toolbox(e.create(map[string]any{}).ID)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "sub", "b.txt")

	// bulk-upload as the SDK sends it: files[i].path, then files[i].file.
	ct, body := multipartBody(t, [][2]string{{"files[0].path", a}, {"files[0].file", "alpha\n"},
		{"files[1].path", b}, {"files[1].file", "beta needle\n"}})
	if r := e.upload(tb+"/files/bulk-upload", ct, body); r.status != 200 {
		t.Fatalf("bulk-upload: %d %s", r.status, r.body)
	}
	if got, _ := os.ReadFile(b); string(got) != "beta needle\n" {
		t.Fatalf("uploaded %q", got)
	}
	ct, body = multipartBody(t, [][2]string{{"file", "gamma"}})
	if r := e.upload(tb+"/files/upload?path="+url.QueryEscape(filepath.Join(dir, "c.txt")), ct, body); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if r := e.upload(tb+"/files/bulk-upload", "text/plain", []byte("x")); r.status != 400 {
		t.Fatalf("bulk-upload of no multipart: %d", r.status)
	}

	// bulk-download: a `file` part per file named by its path, an `error`
	// part for a missing one.
	missing := filepath.Join(dir, "missing")
	r := e.must(200, "POST", tb+"/files/bulk-download", map[string]any{"paths": []string{a, missing, b}})
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("bulk-download content type %q", r.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(p)
		// The whole path, which Go's FileName would cut to its base.
		_, disp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		parts = append(parts, p.FormName()+" "+disp["filename"]+" "+strings.TrimSpace(string(data)))
	}
	if len(parts) != 3 || parts[0] != "file "+a+" alpha" || parts[2] != "file "+b+" beta needle" ||
		!strings.HasPrefix(parts[1], "error "+missing+" {") || !strings.Contains(parts[1], `"code":"FILE_NOT_FOUND"`) {
		t.Fatalf("bulk-download parts: %q", parts)
	}
	r = e.must(200, "GET", tb+"/files/download?path="+url.QueryEscape(a), nil)
	if string(r.body) != "alpha\n" {
		t.Fatalf("download: %q", r.body)
	}
	r = e.request("GET", tb+"/files/download?path="+url.QueryEscape(missing), e.key, nil)
	if r.status != 404 {
		t.Fatalf("download of a missing file: %d", r.status)
	}
	if b := r.err(t); b.Code != "FILE_NOT_FOUND" || b.Source != "DAYTONA_DAEMON" {
		t.Fatalf("missing file error: %+v", b)
	}

	// list, info, folder, move, permissions, search, find, replace, delete.
	var list []struct {
		Name  string `json:"name"`
		IsDir bool   `json:"isDir"`
		Mode  string `json:"mode"`
	}
	e.must(200, "GET", tb+"/files?path="+url.QueryEscape(dir), nil).decode(t, &list)
	var names []string
	for _, f := range list {
		names = append(names, f.Name)
		if f.Name == "sub" && (!f.IsDir || !strings.HasPrefix(f.Mode, "d")) {
			t.Errorf("sub: %+v", f)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"a.txt", "c.txt", "sub"}) {
		t.Fatalf("list: %v", names)
	}
	info := e.must(200, "GET", tb+"/files/info?path="+url.QueryEscape(a), nil).object(t)
	if info["name"] != "a.txt" || info["size"] != float64(6) || info["isDir"] != false || info["modifiedAt"] == "" {
		t.Fatalf("info: %v", info)
	}
	e.must(201, "POST", tb+"/files/folder?path="+url.QueryEscape(filepath.Join(dir, "new"))+"&mode=0700", nil)
	if fi, err := os.Stat(filepath.Join(dir, "new")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("folder: %v %v", fi, err)
	}
	moved := filepath.Join(dir, "new", "a.txt")
	e.must(200, "POST", tb+"/files/move?source="+url.QueryEscape(a)+"&destination="+url.QueryEscape(moved), nil)
	e.must(200, "POST", tb+"/files/permissions?path="+url.QueryEscape(moved)+"&mode=0600", nil)
	if fi, err := os.Stat(moved); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("moved and chmod: %v %v", fi, err)
	}
	var found struct {
		Files []string `json:"files"`
	}
	e.must(200, "GET", tb+"/files/search?path="+url.QueryEscape(dir)+"&pattern=*.txt", nil).decode(t, &found)
	slices.Sort(found.Files)
	if !slices.Equal(found.Files, []string{filepath.Join(dir, "c.txt"), moved, b}) {
		t.Fatalf("search: %v", found.Files)
	}
	var matches []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Content string `json:"content"`
	}
	e.must(200, "GET", tb+"/files/find?path="+url.QueryEscape(dir)+"&pattern=needle", nil).decode(t, &matches)
	if len(matches) != 1 || matches[0].File != b || matches[0].Line != 1 || matches[0].Content != "beta needle" {
		t.Fatalf("find: %+v", matches)
	}
	var replaced []struct {
		File    string `json:"file"`
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}
	e.must(200, "POST", tb+"/files/replace", map[string]any{"files": []string{b, missing}, "pattern": "needle", "newValue": "pin"}).decode(t, &replaced)
	if len(replaced) != 2 || !replaced[0].Success || replaced[1].Success || replaced[1].Error == "" {
		t.Fatalf("replace: %+v", replaced)
	}
	if got, _ := os.ReadFile(b); string(got) != "beta pin\n" {
		t.Fatalf("replaced: %q", got)
	}
	e.must(204, "DELETE", tb+"/files?path="+url.QueryEscape(filepath.Join(dir, "sub"))+"&recursive=true", nil)
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Fatalf("deleted: %v", err)
	}
	for _, p := range []string{"/files/info", "/files/download", "/files/search?path=/"} {
		if r := e.request("GET", tb+p, e.key, nil); r.status != 400 {
			t.Errorf("%s without its parameter: %d", p, r.status)
		}
	}
}

// TestSessions: a session is one shell, so cd and exports carry over;
// commands run to their end or in the background; a session whose shell
// died answers 410.
func TestSessions(t *testing.T) {
	e := newEnv(t)
	tb := e.toolbox(e.create(map[string]any{}).ID)
	sessionID := "s1-" + filepath.Base(t.TempDir())
	t.Cleanup(func() { e.request("DELETE", tb+"/process/session/"+sessionID, e.key, nil) })
	e.must(201, "POST", tb+"/process/session", map[string]any{"sessionId": sessionID})
	if r := e.request("POST", tb+"/process/session", e.key, map[string]any{"sessionId": sessionID}); r.status != 409 {
		t.Fatalf("same session again: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"", "../x", "a/b"} {
		if r := e.request("POST", tb+"/process/session", e.key, map[string]any{"sessionId": bad}); r.status != 400 {
			t.Errorf("session id %q: %d", bad, r.status)
		}
	}
	dir := t.TempDir()
	ex := func(body map[string]any) map[string]any {
		t.Helper()
		return e.must(200, "POST", tb+"/process/session/"+sessionID+"/exec", body).object(t)
	}
	ex(map[string]any{"command": "cd " + dir + " && export GREETING=hello"})
	got := ex(map[string]any{"command": "pwd; echo $GREETING; echo oops >&2; false"})
	if got["stdout"] != dir+"\nhello\n" || got["stderr"] != "oops\n" || got["exitCode"] != float64(1) || got["output"] != dir+"\nhello\noops\n" {
		t.Fatalf("state carried over: %v", got)
	}
	if got := ex(map[string]any{"command": `echo "unterminated`}); got["exitCode"] != float64(2) {
		t.Fatalf("syntax error: %v", got)
	}
	if got := ex(map[string]any{"command": "echo still here"}); got["stdout"] != "still here\n" {
		t.Fatalf("after a syntax error: %v", got)
	}
	async := e.must(202, "POST", tb+"/process/session/"+sessionID+"/exec", map[string]any{"command": "sleep 0.3; echo later", "runAsync": true}).object(t)
	cmdID, _ := async["cmdId"].(string)
	if cmdID == "" || async["exitCode"] != nil {
		t.Fatalf("async: %v", async)
	}
	var cmd struct {
		ID       string `json:"id"`
		Command  string `json:"command"`
		ExitCode *int   `json:"exitCode"`
	}
	poll.Until(t, "the background command to end", func() bool {
		e.must(200, "GET", tb+"/process/session/"+sessionID+"/command/"+cmdID, nil).decode(t, &cmd)
		return cmd.ExitCode != nil
	})
	if cmd.ID != cmdID || *cmd.ExitCode != 0 || !strings.Contains(cmd.Command, "echo later") {
		t.Fatalf("command: %+v", cmd)
	}
	logs := e.must(200, "GET", tb+"/process/session/"+sessionID+"/command/"+cmdID+"/logs", nil).object(t)
	if logs["stdout"] != "later\n" || logs["output"] != "later\n" {
		t.Fatalf("logs: %v", logs)
	}
	var sess struct {
		SessionID string `json:"sessionId"`
		Commands  []struct {
			ID      string `json:"id"`
			Command string `json:"command"`
		} `json:"commands"`
	}
	e.must(200, "GET", tb+"/process/session/"+sessionID, nil).decode(t, &sess)
	if sess.SessionID != sessionID || len(sess.Commands) != 5 || sess.Commands[4].ID != cmdID {
		t.Fatalf("session: %+v", sess)
	}
	var all []map[string]any
	e.must(200, "GET", tb+"/process/session", nil).decode(t, &all)
	if !slices.ContainsFunc(all, func(m map[string]any) bool { return m["sessionId"] == sessionID }) {
		t.Fatalf("list: %v", all)
	}
	if r := e.request("GET", tb+"/process/session/"+sessionID+"/command/nope", e.key, nil); r.status != 404 {
		t.Fatalf("unknown command: %d", r.status)
	}
	if r := e.request("GET", tb+"/process/session/"+sessionID+"/command/"+cmdID+"/logs?follow=true", e.key, nil); r.status != 501 {
		t.Fatalf("follow: %d", r.status)
	}
	// exit ends the shell: the session has ended.
	if r := e.request("POST", tb+"/process/session/"+sessionID+"/exec", e.key, map[string]any{"command": "exit 4"}); r.status != 410 {
		t.Fatalf("exit: %d %s", r.status, r.body)
	} else if b := r.err(t); b.Code != "SESSION_ENDED" || b.Source != "DAYTONA_DAEMON" {
		t.Fatalf("ended: %+v", b)
	}
	e.must(204, "DELETE", tb+"/process/session/"+sessionID, nil)
	if r := e.request("GET", tb+"/process/session/"+sessionID, e.key, nil); r.status != 404 {
		t.Fatalf("deleted session: %d %s", r.status, r.body)
	}
	if r := e.request("POST", tb+"/process/session/nope/exec", e.key, map[string]any{"command": "true"}); r.status != 404 {
		t.Fatalf("unknown session: %d", r.status)
	}
}

func TestPreviewURL(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{})
	m := e.must(200, "GET", "/sandbox/"+sb.ID+"/ports/3000/preview-url", nil).object(t)
	if m["url"] != e.url+"/v1/sandboxes/"+sb.ID+"/ports/3000/" || m["sandboxId"] != sb.ID {
		t.Fatalf("preview-url: %v", m)
	}
	if r := e.request("GET", "/sandbox/"+sb.ID+"/ports/0/preview-url", e.key, nil); r.status != 400 {
		t.Fatalf("port 0: %d", r.status)
	}
	if r := e.request("GET", "/sandbox/"+sb.ID+"/ports/3000/signed-preview-url", e.key, nil); r.status != 501 {
		t.Fatalf("signed: %d", r.status)
	}
}

// TestPauseEndsCallsInFlight: a command under way when its sandbox is
// paused ends with the pause's 409, not a hang or a 500.
func TestPauseEndsCallsInFlight(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{})
	done := make(chan response, 1)
	go func() {
		done <- e.request("POST", e.toolbox(sb.ID)+"/process/execute", e.key, map[string]any{"command": "sleep 30", "timeout": 60})
	}()
	// The call holds the sandbox while it runs; pause once it does.
	poll.Until(t, "the command to start", func() bool {
		r := e.request("POST", e.toolbox(sb.ID)+"/process/execute", e.key, map[string]any{"command": "pgrep -f 'sleep 30' >/dev/null"})
		return r.status == 200 && r.object(t)["exitCode"] == float64(0)
	})
	e.must(200, "POST", "/sandbox/"+sb.ID+"/pause", nil)
	r := <-done
	if r.status != 409 || r.err(t).Source != "DAYTONA_PROXY" {
		t.Fatalf("call in flight at pause: %d %s", r.status, r.body)
	}
}
