package httpapi_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hutchdev/hutch/api"
)

// progressLines sends a request and decodes its ndjson answer.
func (e *env) progressLines(method, path string, body io.Reader) (int, []api.ImageProgress) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, body)
	req.Header.Set("Authorization", "Bearer "+e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []api.ImageProgress
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var p api.ImageProgress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			e.t.Fatalf("bad ndjson line %q: %v", sc.Text(), err)
		}
		lines = append(lines, p)
	}
	return resp.StatusCode, lines
}

func rootfsTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"etc/hostname", "box\n"}, {"bin/hello", "#!/bin/sh\necho hi\n"}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	return buf.Bytes()
}

func TestImageImportListInUseAndRemove(t *testing.T) {
	e := newEnv(t)
	status, lines := e.progressLines("POST", "/v1/images/import?rootfs=true&name=tiny", bytes.NewReader(rootfsTar(t)))
	last := lines[len(lines)-1]
	if status != 200 || last.Status != "done" || last.Image == nil {
		t.Fatalf("import: %d %+v %+v", status, lines, last.Error)
	}
	var l api.ImageList
	e.must(200, "GET", "/v1/images", nil).decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].Ref != last.Image.Ref || l.Items[0].Layers != 1 {
		t.Fatalf("images %+v", l.Items)
	}
	sb := e.must(201, "POST", "/v1/sandboxes", map[string]string{"image": "tiny"}).sandbox(t)
	r := e.must(409, "DELETE", "/v1/images?ref=tiny", nil)
	if eb := r.errBody(t); eb.Code != api.CodeConflict || !strings.Contains(eb.Message, "used by 1") {
		t.Fatalf("remove in use: %+v", eb)
	}
	e.must(200, "DELETE", "/v1/sandboxes/"+sb.ID, nil)
	e.must(204, "DELETE", "/v1/images?ref=tiny", nil)
	e.must(404, "DELETE", "/v1/images?ref=tiny", nil)
	e.must(400, "DELETE", "/v1/images", nil)
	if r := e.must(400, "POST", "/v1/images/import?rootfs=true", ""); !strings.Contains(r.errBody(t).Message, "name") {
		t.Fatalf("rootfs import without name: %s", r.body)
	}
}

func TestImagePullStreamsProgress(t *testing.T) {
	e := newEnv(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/demo/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	status, lines := e.progressLines("POST", "/v1/images/pull", strings.NewReader(`{"ref":"`+host+`/demo/app:v1"}`))
	last := lines[len(lines)-1]
	if status != 200 || last.Status != "done" || last.Image == nil || last.Image.Layers != 2 {
		t.Fatalf("pull: %d %+v", status, lines)
	}
	sawBytes := false
	for _, l := range lines {
		if l.Layer != "" && l.Total > 0 {
			sawBytes = true
		}
	}
	if !sawBytes {
		t.Fatalf("no per-layer progress in %+v", lines)
	}
	// An unknown tag fails on the stream's last line with a code.
	_, lines = e.progressLines("POST", "/v1/images/pull", strings.NewReader(`{"ref":"`+host+`/demo/app:nope"}`))
	last = lines[len(lines)-1]
	if last.Status != "error" || last.Error == nil || last.Error.Code != api.CodeNotFound || !strings.Contains(last.Error.Message, "demo/app") {
		t.Fatalf("unknown tag: %+v", last)
	}
	if r := e.must(400, "POST", "/v1/images/pull", `{"ref":"UPPER CASE"}`); r.errBody(t).Code != api.CodeInvalidArgument {
		t.Fatalf("bad ref: %s", r.body)
	}
}

// TestImageImportDockerSave imports a `docker save` tarball through the API
// and finds the image under the name it carries.
func TestImageImportDockerSave(t *testing.T) {
	e := newEnv(t)
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("example.test/team/tool:v2")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	status, lines := e.progressLines("POST", "/v1/images/import", &buf)
	last := lines[len(lines)-1]
	if status != 200 || last.Status != "done" || last.Image == nil || last.Image.Ref != "example.test/team/tool:v2" || last.Image.Layers != 2 {
		t.Fatalf("import: %d %+v", status, lines)
	}
	want, _ := img.Digest()
	if last.Image.Digest != want.String() {
		t.Fatalf("digest %s, want %s", last.Image.Digest, want)
	}
	// Garbage is refused on the stream's last line, with a code.
	_, lines = e.progressLines("POST", "/v1/images/import", strings.NewReader("not a tarball"))
	if last := lines[len(lines)-1]; last.Error == nil || last.Error.Code != api.CodeInvalidArgument {
		t.Fatalf("garbage import: %+v", lines)
	}
}
