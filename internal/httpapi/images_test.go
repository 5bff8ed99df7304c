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

// progressLines sends a request as the platform admin and decodes its
// ndjson answer.
func (e *env) progressLines(method, path string, body io.Reader) (int, []api.ImageProgress) {
	e.t.Helper()
	return e.progressLinesAs(e.key, method, path, body)
}

// progressLinesAs is progressLines with the API key key.
func (e *env) progressLinesAs(key, method, path string, body io.Reader) (int, []api.ImageProgress) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, body)
	req.Header.Set("Authorization", "Bearer "+key)
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

// importAs imports a rootfs tarball as name with key and returns the
// stream's last line.
func (e *env) importAs(key, name string, rootfs []byte) (int, api.ImageProgress) {
	e.t.Helper()
	status, lines := e.progressLinesAs(key, "POST", "/v1/images/import?rootfs=true&name="+name, bytes.NewReader(rootfs))
	if len(lines) == 0 {
		return status, api.ImageProgress{}
	}
	return status, lines[len(lines)-1]
}

func (e *env) imagesAs(key string) []api.Image {
	e.t.Helper()
	r := e.do("GET", "/v1/images", key, nil)
	if r.status != 200 {
		e.t.Fatalf("list images: %d %s", r.status, r.body)
	}
	var l api.ImageList
	r.decode(e.t, &l)
	return l.Items
}

// TestImageNamespaces: an organisation's admin imports into its own
// namespace (listed as not shared, to that organisation only), never
// over the shared image of the same name; members change nothing; shared
// images are the platform admin's to replace and remove.
func TestImageNamespaces(t *testing.T) {
	e := newEnv(t)
	if status, last := e.importAs(e.key, "base", rootfsTar(t)); status != 200 || last.Image == nil || !last.Image.Shared {
		t.Fatalf("platform admin import: %d %+v", status, last)
	}
	orgKey := func(name string) string {
		var org api.Organization
		e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: name}).decode(t, &org)
		return org.APIKey
	}
	keyA, keyB := orgKey("a"), orgKey("b")
	var member api.APIKey
	if r := e.do("POST", "/v1/api-keys", keyB, map[string]any{"name": "member"}); r.status != 201 {
		t.Fatalf("member key: %d %s", r.status, r.body)
	} else {
		r.decode(t, &member)
	}

	other := append(rootfsTar(t), make([]byte, 1024)...) // another tarball, another layer
	status, last := e.importAs(keyB, "base", other)
	if status != 200 || last.Image == nil || last.Image.Shared || last.Image.Ref != "base:latest" {
		t.Fatalf("org B admin import: %d %+v", status, last)
	}
	if got := e.imagesAs(keyA); len(got) != 1 || !got[0].Shared {
		t.Errorf("org A sees %+v; want the shared base only", got)
	}
	if got := e.imagesAs(keyB); len(got) != 2 || got[0].Shared || !got[1].Shared || got[0].Digest == got[1].Digest {
		t.Errorf("org B sees %+v; want its own base, then the shared one", got)
	}

	// A member key changes nothing, before any stream starts.
	if r := e.do("POST", "/v1/images/import?rootfs=true&name=base", member.APIKey, string(rootfsTar(t))); r.status != 403 {
		t.Errorf("member import: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/images/pull", member.APIKey, `{"ref":"example.test/x:1"}`); r.status != 403 {
		t.Errorf("member pull: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/images?ref=base", member.APIKey, nil); r.status != 403 {
		t.Errorf("member remove: %d %s", r.status, r.body)
	}
	// Org A's admin may not remove the shared base; B's removes its own.
	if r := e.do("DELETE", "/v1/images?ref=base", keyA, nil); r.status != 403 || !strings.Contains(r.errBody(t).Message, "shared") {
		t.Errorf("org admin removing a shared image: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/images?ref=base", keyB, nil); r.status != 204 {
		t.Errorf("org B removing its own base: %d %s", r.status, r.body)
	}
	if got := e.imagesAs(keyB); len(got) != 1 || !got[0].Shared {
		t.Errorf("org B sees %+v after removing its own", got)
	}
	// The platform admin replaces the shared base under a sandbox.
	sb := e.must(201, "POST", "/v1/sandboxes", map[string]string{"image": "base"}).sandbox(t)
	if status, last = e.importAs(e.key, "base", other); status != 200 || last.Image == nil || !last.Image.Shared {
		t.Fatalf("platform admin replacing base: %d %+v", status, last)
	}
	if got := e.imagesAs(keyA); len(got) != 1 || got[0].Digest != last.Image.Digest {
		t.Errorf("org A sees %+v after the replace", got)
	}
	e.must(204, "DELETE", "/v1/images?ref=base", nil) // the sandbox runs on the old one
	e.must(200, "DELETE", "/v1/sandboxes/"+sb.ID, nil)
}
