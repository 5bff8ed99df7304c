package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hutchdev/hutch/internal/errdefs"
)

var classes = []error{
	errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrUnavailable, errdefs.ErrForbidden,
	errdefs.ErrResourceExhausted, errdefs.ErrUnauthenticated, errdefs.ErrConflict,
}

// classify names the image in err and gives it the error class the API maps
// to a status: what the registry said, a network failure, a full disk, or
// (for anything left that came from reading the image's own bytes) data that
// is not what the image claims.
func classify(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	wrap := func(class error) error { return fmt.Errorf("%s %s: %w: %w", op, ref, class, err) }
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: %w", op, ref, err)
	case isClassified(err):
		return fmt.Errorf("%s %s: %w", op, ref, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return wrap(errdefs.ErrResourceExhausted)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return wrap(registryClass(te))
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return wrap(errdefs.ErrUnavailable)
	}
	if errors.As(err, new(*fs.PathError)) || errors.As(err, new(*os.LinkError)) {
		return fmt.Errorf("%s %s: %w", op, ref, err)
	}
	return wrap(errdefs.ErrInvalidArgument)
}

func isClassified(err error) bool {
	for _, c := range classes {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// registryClass maps a registry's answer to an error class. Credentials the
// registry refuses are ErrForbidden, not ErrUnauthenticated: the caller's
// Hutch credentials are fine, it is the registry that said no.
func registryClass(te *transport.Error) error {
	for _, d := range te.Errors {
		switch d.Code {
		case transport.NameUnknownErrorCode, transport.ManifestUnknownErrorCode, transport.BlobUnknownErrorCode:
			return errdefs.ErrNotFound
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return errdefs.ErrForbidden
		case transport.TooManyRequestsErrorCode, transport.UnavailableErrorCode:
			return errdefs.ErrUnavailable
		}
	}
	switch {
	case te.StatusCode == http.StatusNotFound:
		return errdefs.ErrNotFound
	case te.StatusCode == http.StatusUnauthorized, te.StatusCode == http.StatusForbidden:
		return errdefs.ErrForbidden
	case te.StatusCode == http.StatusTooManyRequests, te.StatusCode >= 500:
		return errdefs.ErrUnavailable
	default:
		return errdefs.ErrInvalidArgument
	}
}
