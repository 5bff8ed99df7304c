package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/image"
)

func imageToAPI(img *image.Image) api.Image {
	return api.Image{Ref: img.Ref, Digest: img.Digest, Shared: img.Namespace == "", Size: img.Size, Layers: len(img.Layers), CreatedAt: img.CreatedAt}
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) error {
	imgs, err := s.Sandboxes.Images().List(r.Context(), principal(r.Context()).OrganizationID)
	if err != nil {
		return err
	}
	out := api.ImageList{Items: make([]api.Image, 0, len(imgs))}
	for _, img := range imgs {
		out.Items = append(out.Items, imageToAPI(img))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
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
		status, code, msg := gateway.Describe(err)
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

func (s *Server) pullImage(w http.ResponseWriter, r *http.Request) error {
	caller := principal(r.Context())
	if err := s.Sandboxes.Images().CanChange(caller); err != nil {
		return err // no image store, or not allowed: say so before the stream starts
	}
	var req api.PullImageRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	if _, err := image.Normalize(req.Ref); err != nil {
		return errdefs.InvalidField("ref", "%v", err)
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
	img, err := s.Sandboxes.Images().Pull(r.Context(), caller, req.Ref, opts...)
	if err != nil {
		p.finish(nil, err)
		return nil
	}
	p.finish([]*image.Image{img}, nil)
	return nil
}

func (s *Server) importImage(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	images := s.Sandboxes.Images()
	if err := images.CanChange(p); err != nil {
		return err
	}
	q, err := query(r)
	if err != nil {
		return err
	}
	rootfs, err := queryBool(q, "rootfs", false)
	if err != nil {
		return err
	}
	name := q.Get("name")
	if rootfs && name == "" {
		return errdefs.InvalidField("name", "is required for a rootfs import")
	}
	if name != "" {
		if _, err := image.Normalize(name); err != nil {
			return errdefs.InvalidField("name", "%v", err)
		}
	}
	ps := s.startProgress(w, r)
	// An import refused part-way (a limit, a bad archive) leaves the
	// upload unread; closed here, the full-duplex connection does not
	// race the server's next read on it (golang/go#68560).
	defer r.Body.Close()
	ps.send(api.ImageProgress{Status: "importing"})
	if !rootfs {
		var opts []image.ImportOption
		if name != "" {
			opts = append(opts, image.WithName(name))
		}
		ps.finish(images.Import(r.Context(), p, r.Body, opts...))
		return nil
	}
	img, err := s.importRootfs(r, name)
	if err != nil {
		ps.finish(nil, err)
		return nil
	}
	ps.finish([]*image.Image{img}, nil)
	return nil
}

// importRootfs imports a plain rootfs tarball upload as a one-layer image.
func (s *Server) importRootfs(r *http.Request, name string) (*image.Image, error) {
	return s.Sandboxes.Images().ImportRootfs(r.Context(), principal(r.Context()), r.Body, name)
}

func (s *Server) removeImage(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	if err := s.Sandboxes.Images().Remove(r.Context(), principal(r.Context()), q.Get("ref")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
