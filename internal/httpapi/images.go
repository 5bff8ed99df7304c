package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

func (s *Server) imageStore() (*image.Store, error) {
	if s.Images == nil {
		return nil, fmt.Errorf("this server has no image store: %w", errdefs.ErrUnavailable)
	}
	return s.Images, nil
}

func imageToAPI(img *image.Image) api.Image {
	return api.Image{Ref: img.Ref, Digest: img.Digest, Size: img.Size, Layers: len(img.Layers), CreatedAt: img.CreatedAt}
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	st, err := s.imageStore()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	imgs, err := st.List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := api.ImageList{Items: make([]api.Image, 0, len(imgs))}
	for _, img := range imgs {
		out.Items = append(out.Items, imageToAPI(img))
	}
	writeJSON(w, http.StatusOK, out)
}

// progressStream writes newline-delimited JSON progress and flushes each
// line, so a client sees a long pull move. Once it has started, errors can
// only travel as its last line.
type progressStream struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	rc  *http.ResponseController
	enc *json.Encoder
}

func (s *Server) startProgress(w http.ResponseWriter, r *http.Request) *progressStream {
	rc := http.NewResponseController(w)
	// An import reads its upload while progress goes out; HTTP/1 closes
	// the request body on the first response write unless told not to.
	_ = rc.EnableFullDuplex()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return &progressStream{s: s, w: w, r: r, rc: rc, enc: json.NewEncoder(w)}
}

func (p *progressStream) send(v api.ImageProgress) {
	_ = p.enc.Encode(v) // a client that left only misses progress
	_ = p.rc.Flush()
}

func (p *progressStream) finish(imgs []*image.Image, err error) {
	if err != nil {
		status, code, msg := describe(err)
		if status >= 500 {
			p.s.Log.Error("image operation failed", "requestId", requestID(p.r.Context()), "err", err)
		}
		p.send(api.ImageProgress{Status: "error", Error: &api.ErrorDetail{Code: code, Message: msg, RequestID: requestID(p.r.Context())}})
		return
	}
	for _, img := range imgs {
		a := imageToAPI(img)
		p.send(api.ImageProgress{Status: "done", Image: &a})
	}
}

func (s *Server) pullImage(w http.ResponseWriter, r *http.Request) {
	st, err := s.imageStore()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req api.PullImageRequest
	if err := decode(w, r, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := image.Normalize(req.Ref); err != nil {
		s.writeError(w, r, errdefs.InvalidField("ref", "%v", err))
		return
	}
	opts := []image.PullOption{}
	if req.Username != "" || req.Password != "" {
		opts = append(opts, image.WithBasicAuth(req.Username, req.Password))
	}
	p := s.startProgress(w, r)
	p.send(api.ImageProgress{Status: "resolving"})
	opts = append(opts, image.WithProgress(func(pr image.Progress) {
		status := "downloading"
		if pr.Complete {
			status = "unpacked"
		}
		if pr.Cached {
			status = "cached"
		}
		p.send(api.ImageProgress{Status: status, Layer: pr.Layer, Current: pr.Done, Total: pr.Total})
	}))
	img, err := st.Pull(r.Context(), req.Ref, opts...)
	if err != nil {
		p.finish(nil, err)
		return
	}
	p.finish([]*image.Image{img}, nil)
}

// adminImageCall checks what import and remove need before they change
// the server-wide image cache: a store, an admin key, a sane query.
func (s *Server) adminImageCall(r *http.Request) (*image.Store, url.Values, error) {
	st, err := s.imageStore()
	if err != nil {
		return nil, nil, err
	}
	if err := requireAdmin(principal(r.Context())); err != nil {
		return nil, nil, err
	}
	q, err := query(r)
	return st, q, err
}

func (s *Server) importImage(w http.ResponseWriter, r *http.Request) {
	st, q, err := s.adminImageCall(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rootfs, err := queryBool(q, "rootfs", false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	name := q.Get("name")
	if rootfs && name == "" {
		s.writeError(w, r, errdefs.InvalidField("name", "is required for a rootfs import"))
		return
	}
	if name != "" {
		if _, err := image.Normalize(name); err != nil {
			s.writeError(w, r, errdefs.InvalidField("name", "%v", err))
			return
		}
	}
	p := s.startProgress(w, r)
	p.send(api.ImageProgress{Status: "importing"})
	if !rootfs {
		var opts []image.ImportOption
		if name != "" {
			opts = append(opts, image.WithName(name))
		}
		p.finish(st.Import(r.Context(), r.Body, opts...))
		return
	}
	img, err := s.importRootfs(r, st, name)
	if err != nil {
		p.finish(nil, err)
		return
	}
	p.finish([]*image.Image{img}, nil)
}

// importRootfs spools a plain rootfs tarball to disk (ImportRootfs reads a
// file) and imports it as a one-layer image.
func (s *Server) importRootfs(r *http.Request, st *image.Store, name string) (*image.Image, error) {
	f, err := os.CreateTemp(st.Dir(), "rootfs-upload-*.tar")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, r.Body); err != nil {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return st.ImportRootfs(r.Context(), f.Name(), name, image.Config{})
}

func (s *Server) removeImage(w http.ResponseWriter, r *http.Request) {
	st, q, err := s.adminImageCall(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ref := q.Get("ref")
	if ref == "" {
		s.writeError(w, r, errdefs.InvalidField("ref", "is required"))
		return
	}
	img, err := st.Resolve(r.Context(), ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.Sandboxes.UsingImage(r.Context(), func(other string) bool {
		o, err := st.Resolve(r.Context(), other)
		return err == nil && o.Ref == img.Ref
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if users > 0 {
		s.writeError(w, r, fmt.Errorf("image %s is used by %d sandbox(es); delete them first: %w", img.Ref, users, errdefs.ErrConflict))
		return
	}
	if err := st.Remove(r.Context(), img.Ref); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
