package e2b

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	fspb "github.com/hutchdev/hutch/internal/compat/e2b/envdpb/filesystem"
	"github.com/hutchdev/hutch/internal/compat/e2b/envdpb/filesystem/filesystemconnect"
	pb "github.com/hutchdev/hutch/internal/compat/e2b/envdpb/process"
	"github.com/hutchdev/hutch/internal/compat/e2b/envdpb/process/processconnect"
	"github.com/hutchdev/hutch/internal/poll"
)

// envdClient is one sandbox's envd as the SDK reaches it: the one
// sandboxUrl, the sandbox in a header, its access token.
type envdClient struct {
	e       *env
	headers map[string]string
	proc    processconnect.ProcessClient
	fs      filesystemconnect.FilesystemClient
}

func (e *env) envd(sb sandboxJSON, opts ...connect.ClientOption) *envdClient {
	base := e.url + Prefix + "/envd"
	return &envdClient{e: e, headers: map[string]string{sandboxHeader: sb.SandboxID, "X-Access-Token": sb.EnvdAccessToken},
		proc: processconnect.NewProcessClient(http.DefaultClient, base, opts...),
		fs:   filesystemconnect.NewFilesystemClient(http.DefaultClient, base, opts...)}
}

func (c *envdClient) do(method, path, contentType string, body any) response {
	c.e.t.Helper()
	h := map[string]string{}
	for k, v := range c.headers {
		h[k] = v
	}
	r := c.e.do(method, Prefix+"/envd"+path, h, body)
	return r
}

// req is a Connect request with the envd headers.
func req[T any](c *envdClient, msg *T) *connect.Request[T] {
	r := connect.NewRequest(msg)
	for k, v := range c.headers {
		r.Header().Set(k, v)
	}
	return r
}

// run starts a command and collects its stream.
type run struct {
	pid            uint32
	stdout, stderr string
	exit           int32
	ended          bool
	err            error
}

func (c *envdClient) start(ctx context.Context, stdin bool, argv ...string) (*connect.ServerStreamForClient[pb.StartResponse], error) {
	return c.proc.Start(ctx, req(c, &pb.StartRequest{Process: &pb.ProcessConfig{Cmd: argv[0], Args: argv[1:]}, Stdin: &stdin}))
}

func collect(s interface {
	Receive() bool
	Err() error
}, msg func() *pb.ProcessEvent) run {
	var out run
	for s.Receive() {
		switch ev := msg().GetEvent().(type) {
		case *pb.ProcessEvent_Start:
			out.pid = ev.Start.GetPid()
		case *pb.ProcessEvent_Data:
			out.stdout += string(ev.Data.GetStdout())
			out.stderr += string(ev.Data.GetStderr())
		case *pb.ProcessEvent_End:
			out.exit, out.ended = ev.End.GetExitCode(), true
		}
	}
	out.err = s.Err()
	return out
}

func (c *envdClient) runCmd(t *testing.T, argv ...string) run {
	t.Helper()
	s, err := c.start(t.Context(), false, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return collect(s, func() *pb.ProcessEvent { return s.Msg().GetEvent() })
}

// TestEnvdProcesses: commands over Connect in both encodings: output,
// exit code, a background process signalled, stdin written and closed,
// reattaching with Connect, the list of running processes.
func TestEnvdProcesses(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "base"})
	for name, opts := range map[string][]connect.ClientOption{"proto": nil, "json": {connect.WithProtoJSON()}} {
		t.Run(name, func(t *testing.T) {
			c := e.envd(sb, opts...)
			got := c.runCmd(t, "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
			if got.err != nil || got.pid == 0 || got.stdout != "out\n" || got.stderr != "err\n" || got.exit != 3 || !got.ended {
				t.Fatalf("run = %+v", got)
			}

			sleeper, err := c.start(t.Context(), false, "sleep", "60")
			if err != nil {
				t.Fatal(err)
			}
			if !sleeper.Receive() || sleeper.Msg().GetEvent().GetStart().GetPid() == 0 {
				t.Fatalf("no start event: %v", sleeper.Err())
			}
			pid := sleeper.Msg().GetEvent().GetStart().GetPid()
			list, err := c.proc.List(t.Context(), req(c, &pb.ListRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range list.Msg.GetProcesses() {
				found = found || p.GetPid() == pid && p.GetConfig().GetCmd() == "sleep"
			}
			if !found {
				t.Fatalf("pid %d not listed: %v", pid, list.Msg.GetProcesses())
			}
			attached, err := c.proc.Connect(t.Context(), req(c, &pb.ConnectRequest{Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}}))
			if err != nil {
				t.Fatal(err)
			}
			kill := &pb.SendSignalRequest{Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}, Signal: pb.Signal_SIGNAL_SIGKILL}
			if _, err := c.proc.SendSignal(t.Context(), req(c, kill)); err != nil {
				t.Fatal(err)
			}
			rest := collect(sleeper, func() *pb.ProcessEvent { return sleeper.Msg().GetEvent() })
			if !rest.ended || rest.exit != 128+9 {
				t.Fatalf("killed sleep ended %+v", rest)
			}
			att := collect(attached, func() *pb.ProcessEvent { return attached.Msg().GetEvent() })
			if att.pid != pid || !att.ended || att.err != nil {
				t.Fatalf("connect to pid %d: %+v", pid, att)
			}
			if _, err := c.proc.SendSignal(t.Context(), req(c, kill)); connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("signal to an ended process: %v", err)
			}

			cat, err := c.start(t.Context(), true, "cat")
			if err != nil {
				t.Fatal(err)
			}
			if !cat.Receive() {
				t.Fatal(cat.Err())
			}
			catPid := &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: cat.Msg().GetEvent().GetStart().GetPid()}}
			in := &pb.SendInputRequest{Process: catPid, Input: &pb.ProcessInput{Input: &pb.ProcessInput_Stdin{Stdin: []byte("typed\n")}}}
			if _, err := c.proc.SendInput(t.Context(), req(c, in)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.proc.CloseStdin(t.Context(), req(c, &pb.CloseStdinRequest{Process: catPid})); err != nil {
				t.Fatal(err)
			}
			catRun := collect(cat, func() *pb.ProcessEvent { return cat.Msg().GetEvent() })
			if catRun.stdout != "typed\n" || catRun.exit != 0 || !catRun.ended {
				t.Fatalf("cat = %+v", catRun)
			}

			// The stream's deadline (the SDK's timeoutMs) ends the process too.
			short, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			doomed, err := c.start(short, false, "sleep", "600")
			if err != nil {
				t.Fatal(err)
			}
			d := collect(doomed, func() *pb.ProcessEvent { return doomed.Msg().GetEvent() })
			if connect.CodeOf(d.err) != connect.CodeDeadlineExceeded || d.pid == 0 {
				t.Fatalf("a command past its timeout: %+v", d)
			}
			poll.Until(t, "the timed-out process ends", func() bool {
				list, err := c.proc.List(t.Context(), req(c, &pb.ListRequest{}))
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range list.Msg.GetProcesses() {
					if p.GetPid() == d.pid {
						return false
					}
				}
				return true
			})

			// Tags are not kept: selecting by one says so.
			byTag := &pb.SendInputRequest{Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Tag{Tag: "t"}}}
			if _, err := c.proc.SendInput(t.Context(), req(c, byTag)); connect.CodeOf(err) != connect.CodeUnimplemented {
				t.Fatalf("tag selector: %v", err)
			}
		})
	}
}

// TestEnvdPty: a command on a terminal of its size with its environment,
// typed input, a resize, a listing, and a kill.
func TestEnvdPty(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "base"})
	c := e.envd(sb, connect.WithProtoJSON())
	startPty := func(script string) (*connect.ServerStreamForClient[pb.StartResponse], *pb.ProcessSelector) {
		t.Helper()
		s, err := c.proc.Start(t.Context(), req(c, &pb.StartRequest{
			Process: &pb.ProcessConfig{Cmd: "/bin/sh", Args: []string{"-c", script}, Envs: map[string]string{"FOO": "it's"}},
			Pty:     &pb.PTY{Size: &pb.PTY_Size{Cols: 100, Rows: 30}}}))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Receive() || s.Msg().GetEvent().GetStart() == nil {
			t.Fatalf("no start event: %v", s.Err())
		}
		return s, &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: s.Msg().GetEvent().GetStart().GetPid()}}
	}
	// readUntil reads pty output until it contains want.
	readUntil := func(s *connect.ServerStreamForClient[pb.StartResponse], want string) string {
		t.Helper()
		var out string
		for !strings.Contains(out, want) && s.Receive() {
			out += string(s.Msg().GetEvent().GetData().GetPty())
		}
		if !strings.Contains(out, want) {
			t.Fatalf("pty output %q lacks %q (%v)", out, want, s.Err())
		}
		return out
	}
	input := func(sel *pb.ProcessSelector, text string) {
		t.Helper()
		in := &pb.SendInputRequest{Process: sel, Input: &pb.ProcessInput{Input: &pb.ProcessInput_Pty{Pty: []byte(text)}}}
		if _, err := c.proc.SendInput(t.Context(), req(c, in)); err != nil {
			t.Fatal(err)
		}
	}

	s, sel := startPty(`stty size; echo "foo=$FOO"; read x; echo "got:$x"; exit 4`)
	if out := readUntil(s, "foo=it's"); !strings.Contains(out, "30 100") {
		t.Fatalf("terminal size not 100x30: %q", out)
	}
	list, err := c.proc.List(t.Context(), req(c, &pb.ListRequest{}))
	if err != nil || len(list.Msg.GetProcesses()) != 1 || list.Msg.GetProcesses()[0].GetPid() != sel.GetPid() {
		t.Fatalf("list with a pty: %v %v", list, err)
	}
	input(sel, "typed\n")
	rest := collect(s, func() *pb.ProcessEvent { return s.Msg().GetEvent() })
	if !rest.ended || rest.exit != 4 {
		t.Fatalf("pty ended %+v", rest)
	}

	s, sel = startPty(`read x; stty size; sleep 600`)
	up := &pb.UpdateRequest{Process: sel, Pty: &pb.PTY{Size: &pb.PTY_Size{Cols: 50, Rows: 20}}}
	if _, err := c.proc.Update(t.Context(), req(c, up)); err != nil {
		t.Fatal(err)
	}
	input(sel, "\n")
	readUntil(s, "20 50")
	kill := &pb.SendSignalRequest{Process: sel, Signal: pb.Signal_SIGNAL_SIGKILL}
	if _, err := c.proc.SendSignal(t.Context(), req(c, kill)); err != nil {
		t.Fatal(err)
	}
	if killed := collect(s, func() *pb.ProcessEvent { return s.Msg().GetEvent() }); !killed.ended || killed.exit != 137 || killed.err != nil {
		t.Fatalf("killed pty: %+v", killed)
	}
	if _, err := c.proc.Update(t.Context(), req(c, up)); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("resize after the end: %v", err)
	}
}

// TestEnvdFiles: the REST file routes (multipart and octet-stream, gzip,
// an empty file) and the filesystem service.
func TestEnvdFiles(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "base"})
	c := e.envd(sb, connect.WithProtoJSON())
	dir := t.TempDir()

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("file", filepath.Join(dir, "sub", "a.txt"))
	part.Write([]byte("hello\n"))
	mw.CreateFormFile("file", filepath.Join(dir, "empty.txt"))
	mw.Close()
	c.headers["Content-Type"] = mw.FormDataContentType()
	r := c.do("POST", "/files", "", form.String())
	delete(c.headers, "Content-Type")
	var written []writeInfo
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r.json(t, &written)
	if len(written) != 2 || written[0].Path != filepath.Join(dir, "sub", "a.txt") || written[0].Name != "a.txt" || written[0].Type != "file" {
		t.Fatalf("upload answered %+v", written)
	}
	if r := c.do("GET", "/files?path="+filepath.Join(dir, "sub", "a.txt"), "", nil); r.status != 200 || string(r.body) != "hello\n" {
		t.Fatalf("read back: %d %q", r.status, r.body)
	}
	if r := c.do("GET", "/files?path="+filepath.Join(dir, "empty.txt"), "", nil); r.status != 200 || r.header.Get("Content-Length") != "0" {
		t.Fatalf("empty file: %d %v", r.status, r.header)
	}
	if r := c.do("GET", "/files?path="+filepath.Join(dir, "missing"), "", nil); r.status != 404 {
		t.Fatalf("missing file: %d %s", r.status, r.body)
	} else {
		r.e2bError(t)
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("zipped"))
	zw.Close()
	c.headers["Content-Type"], c.headers["Content-Encoding"] = "application/octet-stream", "gzip"
	r = c.do("POST", "/files?path="+filepath.Join(dir, "z.txt"), "", gz.String())
	delete(c.headers, "Content-Type")
	delete(c.headers, "Content-Encoding")
	if r.status != 200 {
		t.Fatalf("octet-stream upload: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/files?path="+filepath.Join(dir, "z.txt"), "", nil); string(r.body) != "zipped" {
		t.Fatalf("gzipped upload read back %q", r.body)
	}

	ctx := t.Context()
	newDir := filepath.Join(dir, "made", "deep")
	if _, err := c.fs.MakeDir(ctx, req(c, &fspb.MakeDirRequest{Path: newDir})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.fs.MakeDir(ctx, req(c, &fspb.MakeDirRequest{Path: newDir})); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("second mkdir: %v", err)
	}
	st, err := c.fs.Stat(ctx, req(c, &fspb.StatRequest{Path: filepath.Join(dir, "sub", "a.txt")}))
	if err != nil {
		t.Fatal(err)
	}
	if en := st.Msg.GetEntry(); en.GetType() != fspb.FileType_FILE_TYPE_FILE || en.GetSize() != 6 || en.GetPermissions() != "-rw-r--r--" || en.GetModifiedTime() == nil {
		t.Fatalf("stat = %v", en)
	}
	ls, err := c.fs.ListDir(ctx, req(c, &fspb.ListDirRequest{Path: dir, Depth: 1}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range ls.Msg.GetEntries() {
		names = append(names, en.GetName())
	}
	if strings.Join(names, ",") != "empty.txt,made,sub,z.txt" {
		t.Fatalf("list = %v", names)
	}
	mv, err := c.fs.Move(ctx, req(c, &fspb.MoveRequest{Source: filepath.Join(dir, "z.txt"), Destination: filepath.Join(dir, "sub", "a.txt")}))
	if err != nil || mv.Msg.GetEntry().GetPath() != filepath.Join(dir, "sub", "a.txt") {
		t.Fatalf("move onto a file: %v %v", mv, err)
	}
	if _, err := c.fs.Remove(ctx, req(c, &fspb.RemoveRequest{Path: filepath.Join(dir, "made")})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.fs.Stat(ctx, req(c, &fspb.StatRequest{Path: newDir})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("stat after remove: %v", err)
	}
	w, err := c.fs.WatchDir(ctx, req(c, &fspb.WatchDirRequest{Path: dir}))
	if err == nil {
		w.Receive()
		err = w.Err()
	}
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Fatalf("watch: %v", err)
	}
}

// TestEnvdAccess: the access token opens its own sandbox only; the host
// form names the sandbox; a paused sandbox is refused at once (409, a
// failed precondition, and 502 on /health so that isRunning() is false);
// a killed one is gone (502, unavailable).
func TestEnvdAccess(t *testing.T) {
	e := newEnv(t)
	a := e.create(map[string]any{"templateID": "base"})
	b := e.create(map[string]any{"templateID": "base"})
	health := func(h map[string]string) int { return e.do("GET", Prefix+"/envd/health", h, nil).status }
	if s := health(map[string]string{sandboxHeader: a.SandboxID, "X-Access-Token": a.EnvdAccessToken}); s != 204 {
		t.Fatalf("health: %d", s)
	}
	for name, h := range map[string]map[string]string{
		"no token":            {sandboxHeader: a.SandboxID},
		"other sandbox token": {sandboxHeader: a.SandboxID, "X-Access-Token": b.EnvdAccessToken},
		"API key as token":    {sandboxHeader: a.SandboxID, "X-Access-Token": e.key, "X-API-KEY": e.key},
	} {
		if s := health(h); s != 401 {
			t.Errorf("%s: %d", name, s)
		}
	}
	if r := e.do("GET", Prefix+"/envd/files?path=/etc/hostname", map[string]string{"X-Access-Token": a.EnvdAccessToken}, nil); r.status != 400 {
		t.Errorf("no sandbox named: %d %s", r.status, r.body)
	}
	host := "49983-" + strings.TrimPrefix(a.SandboxID, "sbx_") + "." + domain
	if r := e.do("GET", "/health", map[string]string{"Host": host, "X-Access-Token": a.EnvdAccessToken}, nil); r.status != 204 {
		t.Errorf("host form: %d %s", r.status, r.body)
	}
	// The SDK's downloadUrl/uploadUrl: no token header, a signature of
	// path, operation, user and token (and expiry) instead.
	sign := func(path, op, token, exp string) string {
		raw := path + ":" + op + "::" + token
		if exp != "" {
			raw += ":" + exp
		}
		sum := sha256.Sum256([]byte(raw))
		return "v1_" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "=")
	}
	signed := func(path, sig, exp string) int {
		q := url.Values{"path": {path}, "signature": {sig}}
		if exp != "" {
			q.Set("signature_expiration", exp)
		}
		return e.do("GET", "/files?"+q.Encode(), map[string]string{"Host": host}, nil).status
	}
	later := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	earlier := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	for _, c := range []struct {
		name, sig, exp string
		status         int
	}{
		{"signed", sign("/etc/hostname", "read", a.EnvdAccessToken, ""), "", 200},
		{"signed with expiry", sign("/etc/hostname", "read", a.EnvdAccessToken, later), later, 200},
		{"expired", sign("/etc/hostname", "read", a.EnvdAccessToken, earlier), earlier, 401},
		{"signed for writing", sign("/etc/hostname", "write", a.EnvdAccessToken, ""), "", 401},
		{"other sandbox's token", sign("/etc/hostname", "read", b.EnvdAccessToken, ""), "", 401},
	} {
		if s := signed("/etc/hostname", c.sig, c.exp); s != c.status {
			t.Errorf("%s URL: %d, want %d", c.name, s, c.status)
		}
	}

	c := e.envd(a)
	c.headers["X-Access-Token"] = b.EnvdAccessToken
	if _, err := c.proc.List(t.Context(), req(c, &pb.ListRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("rpc with another sandbox's token: %v", err)
	}

	c = e.envd(a)
	e.must(http.StatusNoContent, "POST", "/sandboxes/"+a.SandboxID+"/pause", nil)
	if s := health(c.headers); s != 502 {
		t.Errorf("health while paused: %d", s)
	}
	if r := c.do("GET", "/files?path=/etc/hostname", "", nil); r.status != 409 {
		t.Errorf("files while paused: %d %s", r.status, r.body)
	} else {
		r.e2bError(t)
	}
	s, err := c.start(t.Context(), false, "true")
	if err == nil {
		s.Receive()
		err = s.Err()
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition || !strings.Contains(ce.Message(), "paused") {
		t.Errorf("start while paused: %v", err)
	}
	if _, err := c.fs.Stat(t.Context(), req(c, &fspb.StatRequest{Path: "/"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("stat while paused: %v", err)
	}
	e.must(http.StatusCreated, "POST", "/v2/sandboxes/"+a.SandboxID+"/connect", map[string]any{})
	if s := health(c.headers); s != 204 {
		t.Errorf("health after connect: %d", s)
	}

	// A pause ends a command's stream in flight at once, saying why.
	long, err := c.start(t.Context(), false, "sleep", "600")
	if err != nil || !long.Receive() {
		t.Fatalf("start: %v %v", err, long.Err())
	}
	e.must(http.StatusNoContent, "POST", "/sandboxes/"+a.SandboxID+"/pause", nil)
	cut := collect(long, func() *pb.ProcessEvent { return long.Msg().GetEvent() })
	if !errors.As(cut.err, &ce) || ce.Code() != connect.CodeFailedPrecondition || !strings.Contains(ce.Message(), "paused") || cut.ended {
		t.Errorf("stream of a command when its sandbox paused: %+v", cut)
	}
	e.must(http.StatusCreated, "POST", "/v2/sandboxes/"+a.SandboxID+"/connect", map[string]any{})

	e.must(http.StatusNoContent, "DELETE", "/sandboxes/"+a.SandboxID, nil)
	if s := health(c.headers); s != 502 {
		t.Errorf("health after kill: %d", s)
	}
	if r := c.do("GET", "/files?path=/etc/hostname", "", nil); r.status != 502 {
		t.Errorf("files after kill: %d %s", r.status, r.body)
	}
	if _, err := c.proc.List(t.Context(), req(c, &pb.ListRequest{})); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("rpc after kill: %v", err)
	}
}
