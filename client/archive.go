package client

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/tarcopy"
)

// DownloadArchive opens a tar stream of path in a sandbox (a directory
// with everything below it, or one file), its entries named from name
// ("" for path's base name); the caller closes it. Symlinks are entries of
// their own, never followed. Unpack it with CopyFromSandbox's rules, not
// with a plain tar reader writing paths: the stream comes from inside the
// sandbox.
func (c *Client) DownloadArchive(ctx context.Context, id, path, name string) (io.ReadCloser, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	q := url.Values{"path": {path}}
	if name != "" {
		q.Set("name", name)
	}
	resp, err := c.send(ctx, request{method: "GET", path: c.agentPath(id, "/files/archive"), query: q, accept: "application/x-tar"})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// UploadArchive unpacks the tar stream body into the directory dir in a
// sandbox, creating it when missing. Modes, owners, times and symlinks
// are kept; an entry that would land outside dir is refused.
func (c *Client) UploadArchive(ctx context.Context, id, dir string, body io.Reader) (*api.FileInfo, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	var out api.FileInfo
	err := c.do(ctx, request{method: "PUT", path: c.agentPath(id, "/files/archive"),
		query: url.Values{"path": {dir}}, raw: body, contentType: "application/x-tar"}, &out)
	return &out, err
}

// CopyOptions tune CopyToSandbox and CopyFromSandbox.
type CopyOptions struct {
	// Name is the copy's name in the destination directory; "" keeps the
	// source's base name.
	Name string
	// Progress, when set, is called as entries are copied with the
	// running counts.
	Progress func(entries int, bytes int64)
}

// CopyToSandbox copies the local file or directory src (symlinks kept as
// symlinks, modes and times kept) into the directory dir of a sandbox,
// as dir/<Name>.
func (c *Client) CopyToSandbox(ctx context.Context, id, src, dir string, opts CopyOptions) (*api.FileInfo, error) {
	if _, err := os.Lstat(src); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, err := tarcopy.Pack(ctx, pw, src, tarcopy.PackOptions{Name: copyName(src, opts.Name), Progress: statsFunc(opts.Progress)})
		pw.CloseWithError(err)
	}()
	info, err := c.UploadArchive(ctx, id, dir, pr)
	pr.CloseWithError(errors.New("upload ended"))
	return info, err
}

// CopyFromSandbox copies src in a sandbox (a file, a directory with
// everything below it, or a symlink, kept as one) into the local
// directory dir, as dir/<Name>. The stream is unpacked through an os.Root
// on dir: whatever the sandbox sends, nothing is written outside dir/<Name>
// (entries are renamed under it; absolute names and ".." are refused; no
// symlink is followed out of dir), and setuid, setgid and sticky bits and
// owners are dropped, so a sandbox cannot plant a privileged program on the
// host.
func (c *Client) CopyFromSandbox(ctx context.Context, id, src, dir string, opts CopyOptions) error {
	name := copyName(src, opts.Name)
	rc, err := c.DownloadArchive(ctx, id, src, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = tarcopy.Unpack(ctx, dir, rc, tarcopy.UnpackOptions{Rename: name, Progress: statsFunc(opts.Progress)})
	return err
}

// copyName is the name a copy of src takes: name, or src's base name
// ("root" for /).
func copyName(src, name string) string {
	if name != "" {
		return name
	}
	b := path.Base(filepath.ToSlash(src))
	if b == "/" || b == "." || b == ".." {
		return "root"
	}
	return b
}

func statsFunc(f func(int, int64)) func(tarcopy.Stats) {
	if f == nil {
		return nil
	}
	return func(s tarcopy.Stats) { f(s.Entries, s.Bytes) }
}
