package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// remotePath splits ID:/path; ok is false for a local path.
func remotePath(s string) (id, path string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || strings.ContainsRune(s[:i], '/') {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// runCp copies files and directories as `docker cp` does: to an existing
// directory under the source's name, otherwise to the name given. Both
// ways travel as tar streams, so modes, times and symlinks are kept; what
// comes from the sandbox is written through an os.Root on the local
// directory (client.CopyFromSandbox), never through a symlink onto the
// rest of the host.
func runCp(ctx context.Context, e *env, args []string) error {
	var mode string
	var showProgress bool
	fs := e.flagSet("cp")
	fs.StringVar(&mode, "mode", "", "permission bits of an uploaded file (octal; default: the local file's)")
	fs.BoolVar(&showProgress, "progress", false, "report progress on stderr even when it is not a terminal")
	pos, _, err := e.parse(fs, "cp", "SRC DST",
		"Copy a file or a directory into or out of a sandbox: one of SRC and DST is ID:/path; - is stdin or stdout "+
			"(a directory goes to stdout as a tar stream). Modes, times and symlinks are kept.", args)
	if err != nil {
		return err
	}
	if err := needArgs("cp", pos, 2, 2, "SRC and DST"); err != nil {
		return err
	}
	srcID, srcPath, srcRemote := remotePath(pos[0])
	dstID, dstPath, dstRemote := remotePath(pos[1])
	if srcRemote == dstRemote {
		return usagef("cp", "exactly one of SRC and DST must be ID:/path")
	}
	c, err := e.client("cp")
	if err != nil {
		return err
	}
	p := newCopyProgress(e.stderr, showProgress)
	if dstRemote {
		err = copyUp(ctx, e, c, pos[0], dstID, dstPath, mode, p)
	} else {
		err = copyDown(ctx, e, c, srcID, srcPath, pos[1], p)
	}
	p.finish(err)
	return err
}

func copyUp(ctx context.Context, e *env, c *client.Client, src, id, dst, mode string, p *copyProgress) error {
	if src == "-" {
		return uploadStream(ctx, e, c, e.stdin, id, dst, mode)
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if mode != "" {
		if !fi.Mode().IsRegular() {
			return usagef("cp", "--mode is for a file; %s is not one", src)
		}
		if strings.HasSuffix(dst, "/") {
			dst += filepath.Base(src)
		}
		return uploadFile(ctx, e, c, src, id, dst, mode)
	}
	dir, name := dst, ""
	if !strings.HasSuffix(dst, "/") {
		remote, err := c.StatFile(ctx, id, dst)
		switch {
		case err == nil && remote.Type == "dir":
		case err == nil && fi.IsDir():
			return fmt.Errorf("%s is a %s in the sandbox; a directory cannot replace it", dst, remote.Type)
		case err == nil, client.IsFileNotFound(err):
			dir, name = path.Dir(dst), path.Base(dst)
		default:
			return err
		}
	}
	info, err := c.CopyToSandbox(ctx, id, src, dir, client.CopyOptions{Name: name, Progress: p.update})
	if client.IsAgentOutdated(err) && fi.Mode().IsRegular() {
		// An agent from before the tar routes still takes one file.
		return uploadFile(ctx, e, c, src, id, path.Join(dir, copyName(src, name)), fmt.Sprintf("%o", fi.Mode().Perm()))
	}
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, info)
	}
	return nil
}

// uploadFile writes the local file src to dst, with mode.
func uploadFile(ctx context.Context, e *env, c *client.Client, src, id, dst, mode string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return uploadStream(ctx, e, c, f, id, dst, mode)
}

// copyName is the name a copy of src takes: name, or src's base name.
func copyName(src, name string) string {
	if name != "" {
		return name
	}
	return path.Base(filepath.ToSlash(src))
}

// uploadStream writes one file from r, with mode.
func uploadStream(ctx context.Context, e *env, c *client.Client, r io.Reader, id, dst, mode string) error {
	info, err := c.Upload(ctx, id, dst, r, mode)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, info)
	}
	return nil
}

func copyDown(ctx context.Context, e *env, c *client.Client, id, src, dst string, p *copyProgress) error {
	remote, err := c.StatFile(ctx, id, src)
	if err != nil {
		return err
	}
	if dst == "-" {
		return copyToStdout(ctx, e, c, id, src, remote)
	}
	dir, name := dst, ""
	local, err := os.Stat(dst)
	switch {
	case err == nil && local.IsDir():
	case err == nil && remote.Type == "dir":
		return fmt.Errorf("%s is a file; a directory cannot replace it", dst)
	case err == nil, os.IsNotExist(err) && !strings.HasSuffix(dst, "/"):
		dir, name = filepath.Dir(dst), filepath.Base(dst)
	default:
		return err
	}
	err = c.CopyFromSandbox(ctx, id, src, dir, client.CopyOptions{Name: name, Progress: p.update})
	if client.IsAgentOutdated(err) && remote.Type == "file" {
		// An agent from before the tar routes still gives one file.
		return downloadFile(ctx, c, id, src, filepath.Join(dir, copyName(src, name)), remote)
	}
	return err
}

// downloadFile writes one remote file to the local path target with the
// remote file's permission bits and time, replacing what is there (a
// symlink is replaced, not followed).
func downloadFile(ctx context.Context, c *client.Client, id, src, target string, remote *api.FileInfo) error {
	rc, err := c.Download(ctx, id, src)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(target), ".hutch-cp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return err
	}
	var perm uint32
	if _, err := fmt.Sscanf(remote.Mode, "%o", &perm); err == nil {
		_ = tmp.Chmod(os.FileMode(perm & 0o777))
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	_ = os.Chtimes(tmp.Name(), remote.ModifiedAt, remote.ModifiedAt)
	return os.Rename(tmp.Name(), target)
}

// copyToStdout writes a file's content, or a directory's tar stream.
func copyToStdout(ctx context.Context, e *env, c *client.Client, id, src string, remote *api.FileInfo) error {
	var rc io.ReadCloser
	var err error
	if remote.Type == "file" {
		rc, err = c.Download(ctx, id, src)
	} else {
		rc, err = c.DownloadArchive(ctx, id, src, "")
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(e.stdout, rc)
	return err
}

// copyProgress reports a copy on stderr: on a terminal one line
// rewritten in place once the copy is large (past progressFrom bytes),
// and with --progress elsewhere a line per progressStep bytes and one at
// the end.
type copyProgress struct {
	w       io.Writer
	tty     bool
	forced  bool
	shown   bool
	last    time.Time
	steps   int64
	entries int
	bytes   int64
}

const (
	progressFrom = 8 << 20
	progressStep = 64 << 20
)

func newCopyProgress(w io.Writer, forced bool) *copyProgress {
	return &copyProgress{w: w, tty: isTerminal(w), forced: forced}
}

func (p *copyProgress) update(entries int, bytes int64) {
	p.entries, p.bytes = entries, bytes
	switch {
	case p.tty && (p.forced || bytes >= progressFrom):
		now := time.Now()
		if p.shown && now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		p.last = now
		fmt.Fprintf(p.w, "\r\x1b[Kcopying: %s", p.counts())
		p.shown = true
	case p.forced && bytes/progressStep > p.steps:
		p.steps = bytes / progressStep
		fmt.Fprintf(p.w, "copying: %s\n", p.counts())
	}
}

// finish prints the totals when progress was shown (or asked for), or
// ends the in-place line before an error is printed.
func (p *copyProgress) finish(err error) {
	switch {
	case p.tty && p.shown && err != nil:
		fmt.Fprintln(p.w)
	case err != nil:
	case p.tty && p.shown:
		fmt.Fprintf(p.w, "\r\x1b[Kcopied %s\n", p.counts())
	case !p.tty && p.forced && p.entries > 0:
		fmt.Fprintf(p.w, "copied %s\n", p.counts())
	}
}

func (p *copyProgress) counts() string {
	noun := "entries"
	if p.entries == 1 {
		noun = "entry"
	}
	return fmt.Sprintf("%d %s, %s", p.entries, noun, bytesHuman(p.bytes))
}
