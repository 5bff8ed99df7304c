package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

const imageSynopsis = "pull|import|ls|rm ..."

func runImage(ctx context.Context, e *env, args []string) error {
	sub := map[string]func(context.Context, *env, []string) error{
		"pull": runImagePull, "import": runImageImport, "ls": runImageList, "rm": runImageRemove,
	}
	return e.group(ctx, "image", imageSynopsis, "Manage the server's image cache:\n"+
		"  pull REF          pull from a registry\n"+
		"  import FILE|-     import an OCI, docker save or (--rootfs) root filesystem tarball\n"+
		"  ls                list cached images\n"+
		"  rm REF...         remove images", sub, args)
}

// group dispatches a verb group such as image or key to its sub-verb.
func (e *env) group(ctx context.Context, verb, synopsis, summary string, sub map[string]func(context.Context, *env, []string) error, args []string) error {
	fs := e.flagSet(verb)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(e, fs, verb, synopsis, summary)
			return errHelp
		}
		return usagef(verb, "%v", err)
	}
	pos := fs.Args()
	if len(pos) == 0 {
		return usagef(verb, "missing sub-command")
	}
	run, ok := sub[pos[0]]
	if !ok {
		return usagef(verb, "unknown sub-command %q", pos[0])
	}
	return run(ctx, e, pos[1:])
}

func runImagePull(ctx context.Context, e *env, args []string) error {
	var req api.PullImageRequest
	fs := e.flagSet("image pull")
	fs.StringVar(&req.Username, "username", "", "registry user name; the password comes from $HUTCH_REGISTRY_PASSWORD")
	pos, _, err := e.parse(fs, "image pull", "REF", "Pull an image from a registry into the server's cache.", args)
	if err != nil {
		return err
	}
	if err := needArgs("image pull", pos, 1, 1, "image reference"); err != nil {
		return err
	}
	req.Ref = pos[0]
	if req.Username != "" {
		req.Password = os.Getenv("HUTCH_REGISTRY_PASSWORD")
	}
	c, err := e.client("image pull")
	if err != nil {
		return err
	}
	return e.imageResult(func(progress func(api.ImageProgress)) (*api.Image, error) {
		return c.PullImage(ctx, req, progress)
	})
}

func runImageImport(ctx context.Context, e *env, args []string) error {
	var opts client.ImportOptions
	fs := e.flagSet("image import")
	fs.StringVar(&opts.Name, "name", "", "`reference` to store the image under (required with --rootfs)")
	fs.BoolVar(&opts.Rootfs, "rootfs", false, "the tarball is a plain root filesystem")
	pos, _, err := e.parse(fs, "image import", "FILE|-",
		"Import an OCI layout, docker save or root filesystem tarball (- reads stdin).", args)
	if err != nil {
		return err
	}
	if err := needArgs("image import", pos, 1, 1, "tarball path"); err != nil {
		return err
	}
	if opts.Rootfs && opts.Name == "" {
		return usagef("image import", "--rootfs needs --name")
	}
	var r io.Reader = e.stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	c, err := e.client("image import")
	if err != nil {
		return err
	}
	return e.imageResult(func(progress func(api.ImageProgress)) (*api.Image, error) {
		return c.ImportImage(ctx, r, opts, progress)
	})
}

// imageResult runs a pull or import with progress on stderr and prints
// the resulting image.
func (e *env) imageResult(call func(func(api.ImageProgress)) (*api.Image, error)) error {
	p := newProgress(e.stderr)
	img, err := call(p.update)
	p.finish()
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, img)
	}
	fmt.Fprintf(e.stdout, "%s\t%s\n", clean(img.Ref), clean(img.Digest))
	return nil
}

func runImageList(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("image ls")
	pos, _, err := e.parse(fs, "image ls", "", "List the images your organisation sees: its own and the shared ones.", args)
	if err != nil {
		return err
	}
	if err := needArgs("image ls", pos, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.client("image ls")
	if err != nil {
		return err
	}
	list, err := c.ListImages(ctx)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, list)
	}
	now := time.Now()
	tw := table(e.stdout, "REF", "DIGEST", "SCOPE", "SIZE", "LAYERS", "AGE")
	for _, img := range list.Items {
		scope := "own"
		if img.Shared {
			scope = "shared"
		}
		row(tw, img.Ref, shortDigest(img.Digest), scope, bytesHuman(img.Size), fmt.Sprint(img.Layers), age(img.CreatedAt, now))
	}
	return tw.Flush()
}

func runImageRemove(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("image rm")
	refs, _, err := e.parse(fs, "image rm", "REF...", "Remove images from the cache; an image in use is kept.", args)
	if err != nil {
		return err
	}
	if err := needArgs("image rm", refs, 1, -1, "image reference"); err != nil {
		return err
	}
	c, err := e.client("image rm")
	if err != nil {
		return err
	}
	return e.each(refs, func(ref string) error {
		if err := c.RemoveImage(ctx, ref); err != nil {
			return err
		}
		if !e.json {
			fmt.Fprintf(e.stdout, "%s\tremoved\n", clean(ref))
		}
		return nil
	})
}

// each runs fn for every item, going on past failures; a single item's
// error is returned as is, several are printed one per line.
func (e *env) each(items []string, fn func(string) error) error {
	failed := 0
	for _, it := range items {
		if err := fn(it); err != nil {
			if len(items) == 1 {
				return err
			}
			fmt.Fprintf(e.stderr, "error: %s: %s\n", clean(it), errorLine(err))
			failed++
		}
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

// shortDigest keeps the first 12 hex digits, as image tables usually do.
func shortDigest(d string) string {
	const prefix = "sha256:"
	if len(d) > len(prefix)+12 && d[:len(prefix)] == prefix {
		return d[len(prefix) : len(prefix)+12]
	}
	return d
}
