package httpapi_test

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// smallHost is a pretend machine of 2 cores, 4 GiB and 50 GB free.
var smallHost = sandbox.Host{CPU: 2, MemoryMB: 4096, FreeDiskMB: func() (int64, error) { return 50000, nil }}

// wantError checks an error envelope's status, code and words.
func wantError(t *testing.T, r response, status int, code string, words ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := r.errBody(t)
	if e.Code != code {
		t.Fatalf("code %s, want %s: %s", e.Code, code, e.Message)
	}
	for _, w := range words {
		if !strings.Contains(e.Message, w) {
			t.Fatalf("message %q does not say %q", e.Message, w)
		}
	}
}

// TestCreateOverHostIs403 sends the red team's requests: each is a 403
// naming the limit, and a CPU below the kernel's smallest share a 400.
func TestCreateOverHostIs403(t *testing.T) {
	e := newEnvWith(t, nil, sandbox.WithHost(smallHost))
	for _, c := range []struct {
		body  string
		words []string
	}{
		{`{"resources": {"cpu": 64}}`, []string{"resources.cpu", "this host's 2 cpus"}},
		{`{"resources": {"memoryMB": 262144}}`, []string{"resources.memoryMB", "4096 MB"}},
		{`{"resources": {"diskMB": 1048576}}`, []string{"resources.diskMB", "50000 MB free"}},
	} {
		wantError(t, e.do("POST", "/v1/sandboxes", e.key, c.body), 403, api.CodeForbidden, c.words...)
	}
	wantError(t, e.do("POST", "/v1/sandboxes", e.key, `{"resources": {"cpu": 0.001}}`), 400, api.CodeInvalidArgument, "resources.cpu", "0.01")
	e.must(201, "POST", "/v1/sandboxes", `{"resources": {"cpu": 2, "memoryMB": 4096, "diskMB": 4096}}`)
}

// TestOrganizationQuotas: the platform admin sets a quota through the
// API; the organisation reads it and its use, cannot change it, and its
// creates past it are 403 naming the quota.
func TestOrganizationQuotas(t *testing.T) {
	e := newEnvWith(t, nil)
	var org api.Organization
	e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "tenant"}).decode(t, &org)
	path := "/v1/organizations/" + org.ID + "/quotas"

	var q api.OrganizationQuotas
	e.must(200, "GET", path, nil).decode(t, &q)
	if q.OrganizationID != org.ID || q.Set.Sandboxes != nil || q.Effective.Sandboxes != -1 || q.Usage.Sandboxes != 0 || q.UpdatedAt != nil {
		t.Fatalf("fresh quota: %+v", q)
	}
	wantError(t, e.do("PUT", path, org.APIKey, `{"sandboxes": 100}`), 403, api.CodeForbidden, "platform admin")
	wantError(t, e.do("PUT", path, e.key, `{"sandboxes": -2}`), 400, api.CodeInvalidArgument, "sandboxes")
	wantError(t, e.do("PUT", "/v1/organizations/org_nope/quotas", e.key, `{"sandboxes": 1}`), 404, api.CodeNotFound)
	e.must(200, "PUT", path, `{"sandboxes": 1, "cpu": 1.5, "memoryMB": null}`).decode(t, &q)
	if *q.Set.Sandboxes != 1 || *q.Set.CPU != 1.5 || q.Set.MemoryMB != nil || q.Effective.CPU != 1.5 || q.Effective.MemoryMB != -1 || q.UpdatedAt == nil {
		t.Fatalf("quota after PUT: %+v", q)
	}

	wantError(t, e.do("POST", "/v1/sandboxes", org.APIKey, `{"resources": {"cpu": 2}}`), 403, api.CodeForbidden, "quota.cpu", "1.5 cpu")
	if r := e.do("POST", "/v1/sandboxes", org.APIKey, `{"resources": {"cpu": 1}}`); r.status != 201 {
		t.Fatalf("create within the quota: %d %s", r.status, r.body)
	}
	wantError(t, e.do("POST", "/v1/sandboxes", org.APIKey, `{"resources": {"cpu": 0.5}}`), 403, api.CodeForbidden, "quota.sandboxes", "quota is 1 sandboxes")

	r := e.do("GET", path, org.APIKey, nil)
	if r.status != 200 {
		t.Fatalf("own quota: %d %s", r.status, r.body)
	}
	r.decode(t, &q)
	if q.Usage.Sandboxes != 1 || q.Usage.CPU != 1 {
		t.Fatalf("usage: %+v", q.Usage)
	}
	wantError(t, e.do("GET", "/v1/organizations/org_default/quotas", org.APIKey, nil), 403, api.CodeForbidden)
	// The default organisation is not limited by another's quota.
	e.create("unlimited")
}

// TestPullAndWebhookEgress: pulls need an admin key; the server does not
// connect to an internal registry or webhook receiver the platform admin
// did not allow (this environment allows 127.0.0.1 only).
func TestPullAndWebhookEgress(t *testing.T) {
	e := newEnvWith(t, nil)
	var member api.APIKey
	e.must(201, "POST", "/v1/api-keys", api.CreateAPIKeyRequest{Name: "member"}).decode(t, &member)
	wantError(t, e.do("POST", "/v1/images/pull", member.APIKey, `{"ref": "127.0.0.1:5000/app:v1"}`), 403, api.CodeForbidden, "admin key")

	_, lines := e.progressLines("POST", "/v1/images/pull", strings.NewReader(`{"ref": "169.254.169.254/latest:v1"}`))
	last := lines[len(lines)-1]
	if last.Error == nil || last.Error.Code != api.CodeForbidden || !strings.Contains(last.Error.Message, "image registry 169.254.169.254 is a link-local address") {
		t.Fatalf("pull from the metadata address: %+v", last)
	}

	for _, url := range []string{"http://10.0.0.1/hook", "http://0xa9fea9fe/", "http://[::1]:8080/", "http://127.0.0.2:9/"} {
		wantError(t, e.do("POST", "/v1/webhooks", e.key, api.CreateWebhookRequest{URL: url}), 403, api.CodeForbidden, "webhook target", "--egress-allow")
	}
	e.must(201, "POST", "/v1/webhooks", api.CreateWebhookRequest{URL: "http://127.0.0.1:9/hook"})
}

// TestOrganizationImageQuota: an organisation whose quota unpacks 4 MB
// per import is refused an import of an 8 MB file that the server's
// limits allow, with a 400 naming the quota, while another organisation
// imports it; a quota under 1 MB is a 400 naming the field.
func TestOrganizationImageQuota(t *testing.T) {
	e := newEnvWith(t, nil)
	newOrg := func(name string) api.Organization {
		var org api.Organization
		e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: name}).decode(t, &org)
		return org
	}
	small, other := newOrg("small"), newOrg("other")
	path := "/v1/organizations/" + small.ID + "/quotas"
	for _, body := range []string{`{"imageMaxUnpackedMB": -1}`, `{"imageMaxUnpackedMB": 0}`} {
		wantError(t, e.do("PUT", path, e.key, body), 400, api.CodeInvalidArgument, "imageMaxUnpackedMB")
	}
	wantError(t, e.do("PUT", path, e.key, `{"imageMaxCompressedMB": -5}`), 400, api.CodeInvalidArgument, "imageMaxCompressedMB")
	var q api.OrganizationQuotas
	e.must(200, "PUT", path, `{"imageMaxUnpackedMB": 4}`).decode(t, &q)
	if q.Set.ImageMaxUnpackedMB == nil || *q.Set.ImageMaxUnpackedMB != 4 || q.Set.ImageMaxCompressedMB != nil {
		t.Fatalf("quota after PUT: %+v", q.Set)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: 8 << 20, Typeflag: tar.TypeReg})
	tw.Write(make([]byte, 8<<20))
	tw.Close()
	big := buf.Bytes()

	_, last := e.importAs(small.APIKey, "big", big)
	if last.Error == nil || last.Error.Code != api.CodeInvalidArgument ||
		!strings.Contains(last.Error.Message, "quota.imageMaxUnpackedMB") || !strings.Contains(last.Error.Message, "organization's quota") {
		t.Fatalf("import past the organisation's quota ended with %+v", last)
	}
	if got := e.imagesAs(small.APIKey); len(got) != 0 {
		t.Errorf("the refused import left images: %+v", got)
	}
	if status, last := e.importAs(other.APIKey, "big", big); status != 200 || last.Image == nil {
		t.Fatalf("another organisation's import: %d %+v", status, last)
	}
}

// TestOrganizationImageQuotaPull: a pull by an organisation whose quota
// reads 1 MB per pull is refused a 2 MB layer, naming the quota, while
// another organisation pulls it.
func TestOrganizationImageQuotaPull(t *testing.T) {
	e := newEnvWith(t, nil)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	img, err := random.Image(2<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/demo/big:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	newOrg := func(name string) api.Organization {
		var org api.Organization
		e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: name}).decode(t, &org)
		return org
	}
	small, other := newOrg("small"), newOrg("other")
	e.must(200, "PUT", "/v1/organizations/"+small.ID+"/quotas", `{"imageMaxCompressedMB": 1}`)

	pull := `{"ref":"` + host + `/demo/big:v1"}`
	_, lines := e.progressLinesAs(small.APIKey, "POST", "/v1/images/pull", strings.NewReader(pull))
	last := lines[len(lines)-1]
	if last.Error == nil || last.Error.Code != api.CodeInvalidArgument || !strings.Contains(last.Error.Message, "quota.imageMaxCompressedMB") {
		t.Fatalf("pull past the organisation's quota ended with %+v", last)
	}
	_, lines = e.progressLinesAs(other.APIKey, "POST", "/v1/images/pull", strings.NewReader(pull))
	if last := lines[len(lines)-1]; last.Status != "done" || last.Image == nil {
		t.Fatalf("another organisation's pull: %+v", last)
	}
}

// zeros is an upload of n zero bytes that counts what the server read.
type zeros struct{ left, read atomic.Int64 }

func (z *zeros) Read(p []byte) (int, error) {
	n := min(int64(len(p)), z.left.Load())
	if n == 0 {
		return 0, io.EOF
	}
	clear(p[:n])
	z.left.Add(-n)
	z.read.Add(n)
	return int(n), nil
}

// TestRootfsUploadStopsAtCompressedLimit: a rootfs upload is charged to
// the compressed limit as it arrives, so one past its organisation's
// quota stops being read there; it used to be spooled to disk whole and
// checked after.
func TestRootfsUploadStopsAtCompressedLimit(t *testing.T) {
	e := newEnvWith(t, nil)
	var org api.Organization
	e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "small"}).decode(t, &org)
	e.must(200, "PUT", "/v1/organizations/"+org.ID+"/quotas", `{"imageMaxCompressedMB": 1}`)
	body := &zeros{}
	body.left.Store(256 << 20)
	_, lines := e.progressLinesAs(org.APIKey, "POST", "/v1/images/import?rootfs=true&name=big", body)
	if len(lines) == 0 {
		t.Fatal("no progress lines")
	}
	if last := lines[len(lines)-1]; last.Error == nil || last.Error.Code != api.CodeInvalidArgument ||
		!strings.Contains(last.Error.Message, "quota.imageMaxCompressedMB") {
		t.Fatalf("a 256 MB upload past a 1 MB quota ended with %+v", last)
	}
	if read := body.read.Load(); read > 64<<20 {
		t.Fatalf("the server read %d MB of a 256 MB upload past its 1 MB quota before refusing it", read>>20)
	}
}
