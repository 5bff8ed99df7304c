package client

import (
	"context"
	"io"
	"mime/multipart"
	"net/url"
	"strconv"

	"github.com/hutchdev/hutch/api"
)

// Upload streams body into the file at path in a sandbox, creating its
// parent directories; mode is octal permission bits ("" for 0644). The
// file appears whole or not at all.
func (c *Client) Upload(ctx context.Context, id, path string, body io.Reader, mode string) (*api.FileInfo, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	q := url.Values{"path": {path}}
	if mode != "" {
		q.Set("mode", mode)
	}
	var out api.FileInfo
	err := c.do(ctx, request{method: "PUT", path: c.agentPath(id, "/files"), query: q,
		raw: body, contentType: "application/octet-stream"}, &out)
	return &out, err
}

// UploadFiles writes several files into directory dir in one multipart
// request, each under its name in files.
func (c *Client) UploadFiles(ctx context.Context, id, dir string, files map[string]io.Reader) ([]api.FileInfo, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for name, r := range files {
			part, err := mw.CreateFormFile("file", name)
			if err == nil {
				_, err = io.Copy(part, r)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	var out api.FileList
	err := c.do(ctx, request{method: "POST", path: c.agentPath(id, "/files/upload"),
		query: url.Values{"path": {dir}}, raw: pr, contentType: mw.FormDataContentType()}, &out)
	pr.Close()
	return out.Items, err
}

// Download opens the file at path in a sandbox for reading; the caller
// closes it. The content streams; nothing is held in memory.
func (c *Client) Download(ctx context.Context, id, path string) (io.ReadCloser, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, request{method: "GET", path: c.agentPath(id, "/files"),
		query: url.Values{"path": {path}}, accept: "application/octet-stream"})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ListFiles lists a directory, depth levels down (1 for its entries).
func (c *Client) ListFiles(ctx context.Context, id, path string, depth int) (*api.FileList, error) {
	q := url.Values{"path": {path}}
	if depth > 0 {
		q.Set("depth", strconv.Itoa(depth))
	}
	return c.fileList(ctx, id, "/files/list", q)
}

// SearchFiles finds files below path whose name matches a glob.
func (c *Client) SearchFiles(ctx context.Context, id, path, pattern string) (*api.FileList, error) {
	return c.fileList(ctx, id, "/files/search", url.Values{"path": {path}, "pattern": {pattern}})
}

func (c *Client) fileList(ctx context.Context, id, format string, q url.Values) (*api.FileList, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.FileList
	err := c.do(ctx, request{method: "GET", path: c.agentPath(id, format), query: q}, &out)
	return &out, err
}

// StatFile describes one file without following a final symlink.
func (c *Client) StatFile(ctx context.Context, id, path string) (*api.FileInfo, error) {
	return c.fileInfo(ctx, id, request{method: "GET", path: "/files/stat", query: url.Values{"path": {path}}})
}

// Mkdir makes a directory and its parents.
func (c *Client) Mkdir(ctx context.Context, id, path, mode string) (*api.FileInfo, error) {
	return c.fileInfo(ctx, id, request{method: "POST", path: "/files/mkdir", body: api.MkdirRequest{Path: path, Mode: mode}})
}

// Move renames a file or directory; an existing target is replaced only
// with overwrite.
func (c *Client) Move(ctx context.Context, id, from, to string, overwrite bool) (*api.FileInfo, error) {
	return c.fileInfo(ctx, id, request{method: "POST", path: "/files/move", body: api.MoveRequest{From: from, To: to, Overwrite: overwrite}})
}

// Chmod sets a file's permission bits (octal, e.g. "0755").
func (c *Client) Chmod(ctx context.Context, id, path, mode string) (*api.FileInfo, error) {
	return c.fileInfo(ctx, id, request{method: "POST", path: "/files/chmod", body: api.ChmodRequest{Path: path, Mode: mode}})
}

// fileInfo performs r, whose path is the agent route.
func (c *Client) fileInfo(ctx context.Context, id string, r request) (*api.FileInfo, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	r.path = c.agentPath(id, r.path)
	var out api.FileInfo
	err := c.do(ctx, r, &out)
	return &out, err
}

// RemoveFile deletes a file or an empty directory, or with recursive a
// directory and everything in it.
func (c *Client) RemoveFile(ctx context.Context, id, path string, recursive bool) error {
	if err := checkID("sandbox", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: "DELETE", path: c.agentPath(id, "/files"),
		query: url.Values{"path": {path}, "recursive": {strconv.FormatBool(recursive)}}}, nil)
}
