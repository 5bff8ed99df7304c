package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

func ndjson(lines ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, l := range lines {
			_, _ = io.WriteString(w, l+"\n")
			w.(http.Flusher).Flush()
		}
	}
}

func TestPullImageProgress(t *testing.T) {
	c, s := fake(t, ndjson(
		`{"status":"resolving"}`,
		`{"status":"downloading","layer":"sha256:aa","current":10,"total":20}`,
		``,
		`{"status":"downloading","layer":"sha256:aa","current":20,"total":20}`,
		`{"status":"done","image":{"ref":"alpine:3.20","digest":"sha256:ff","size":100,"layers":1}}`,
	))
	var got []api.ImageProgress
	img, err := c.PullImage(context.Background(), api.PullImageRequest{Ref: "alpine:3.20"}, func(p api.ImageProgress) {
		got = append(got, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != "sha256:ff" || img.Ref != "alpine:3.20" {
		t.Errorf("image = %+v", img)
	}
	if len(got) != 4 || got[2].Current != 20 || got[2].Layer != "sha256:aa" {
		t.Errorf("progress = %+v", got)
	}
	if s.path != "/v1/images/pull" || string(s.body) != `{"ref":"alpine:3.20"}` {
		t.Errorf("%s %s", s.path, s.body)
	}
}

func TestPullImageStreamError(t *testing.T) {
	c, _ := fake(t, ndjson(
		`{"status":"resolving"}`,
		`{"status":"error","error":{"code":"NOT_FOUND","message":"manifest unknown","requestId":"req-7"}}`,
	))
	_, err := c.PullImage(context.Background(), api.PullImageRequest{Ref: "nope"}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != api.CodeNotFound || e.RequestID != "req-7" || !IsNotFound(err) {
		t.Errorf("err = %v", err)
	}
}

func TestPullImageTruncatedStream(t *testing.T) {
	c, _ := fake(t, ndjson(`{"status":"downloading","layer":"sha256:aa","current":1,"total":2}`))
	_, err := c.PullImage(context.Background(), api.PullImageRequest{Ref: "x"}, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want unexpected EOF", err)
	}
}

func TestPullImageRefusedBeforeStream(t *testing.T) {
	c, _ := fake(t, reply(http.StatusBadRequest, errorBody(api.CodeInvalidArgument, "ref: empty", "")))
	_, err := c.PullImage(context.Background(), api.PullImageRequest{}, nil)
	if !IsInvalidArgument(err) {
		t.Errorf("err = %v", err)
	}
}

func TestImportImage(t *testing.T) {
	c, s := fake(t, ndjson(`{"status":"done","image":{"ref":"local/base:1","digest":"sha256:bb"}}`))
	img, err := c.ImportImage(context.Background(), strings.NewReader("TARDATA"),
		ImportOptions{Name: "local/base:1", Rootfs: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != "local/base:1" {
		t.Errorf("image = %+v", img)
	}
	if string(s.body) != "TARDATA" || s.header.Get("Content-Type") != "application/x-tar" {
		t.Errorf("body %q type %q", s.body, s.header.Get("Content-Type"))
	}
	if s.query.Get("name") != "local/base:1" || s.query.Get("rootfs") != "true" {
		t.Errorf("query = %v", s.query)
	}
}

func TestRemoveAndListImages(t *testing.T) {
	c, s := fake(t, reply(http.StatusConflict, errorBody(api.CodeConflict, "image in use by sb_1", "")))
	err := c.RemoveImage(context.Background(), "alpine:3.20")
	if !IsConflict(err) {
		t.Errorf("err = %v", err)
	}
	if s.method != "DELETE" || s.path != "/v1/images" || s.query.Get("ref") != "alpine:3.20" {
		t.Errorf("%s %s %v", s.method, s.path, s.query)
	}
	c, _ = fake(t, reply(http.StatusOK, api.ImageList{Items: []api.Image{{Ref: "a"}}}))
	list, err := c.ListImages(context.Background())
	if err != nil || len(list.Items) != 1 {
		t.Errorf("list %+v err %v", list, err)
	}
}
