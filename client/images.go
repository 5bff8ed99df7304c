package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/hutchdev/hutch/api"
)

// ListImages returns the images in the server's cache.
func (c *Client) ListImages(ctx context.Context) (*api.ImageList, error) {
	var list api.ImageList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/images"}, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// RemoveImage removes an image from the cache. It fails with a conflict
// while a sandbox uses the image.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	if err := checkID("image", ref); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/images", query: url.Values{"ref": {ref}}}, nil)
}

// PullImage pulls an image from a registry into the server's cache,
// calling progress (if not nil) for every progress line as it arrives.
func (c *Client) PullImage(ctx context.Context, req api.PullImageRequest, progress func(api.ImageProgress)) (*api.Image, error) {
	resp, err := c.send(ctx, request{method: http.MethodPost, path: "/v1/images/pull", body: req})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readProgress(resp, progress)
}

// ImportOptions adjust ImportImage.
type ImportOptions struct {
	// Name is the reference to store the image under; required for a
	// rootfs tarball, optional for an image archive that names itself.
	Name string
	// Rootfs says the tarball is a plain root filesystem, not an OCI
	// layout or docker save archive.
	Rootfs bool
}

// ImportImage streams a tarball from r into the server's cache, so that a
// machine without registry access can still get images.
func (c *Client) ImportImage(ctx context.Context, r io.Reader, opts ImportOptions, progress func(api.ImageProgress)) (*api.Image, error) {
	q := url.Values{}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	if opts.Rootfs {
		q.Set("rootfs", "true")
	}
	resp, err := c.send(ctx, request{
		method: http.MethodPost, path: "/v1/images/import", query: q,
		raw: r, contentType: "application/x-tar",
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readProgress(resp, progress)
}

// maxProgressLine bounds one ndjson line; progress lines are small.
const maxProgressLine = 1 << 20

// readProgress consumes an ImageProgress stream: the last line carries the
// image or an error, and a stream that ends without either was cut off.
func readProgress(resp *http.Response, progress func(api.ImageProgress)) (*api.Image, error) {
	requestID := resp.Header.Get("X-Request-Id")
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxProgressLine)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var p api.ImageProgress
		if err := json.Unmarshal(line, &p); err != nil {
			return nil, fmt.Errorf("image progress stream (request id %s): bad line %.100q: %w", requestID, line, err)
		}
		if progress != nil {
			progress(p)
		}
		if p.Error != nil {
			e := &Error{Status: statusForCode(p.Error.Code), Code: p.Error.Code, Message: p.Error.Message, RequestID: p.Error.RequestID}
			if e.RequestID == "" {
				e.RequestID = requestID
			}
			return nil, e
		}
		if p.Image != nil {
			return p.Image, nil
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return nil, fmt.Errorf("image progress stream ended without a result (request id %s): %w", requestID, err)
}
