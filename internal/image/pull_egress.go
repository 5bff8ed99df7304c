package image

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hutchdev/hutch/internal/egress"
)

// RegistryPurpose names registries in the egress guard's refusals.
const RegistryPurpose = "image registry"

// OpenOption configures Open.
type OpenOption func(*Store)

// WithEgress makes every pull connect through g: a registry, or a host
// a registry redirects to, on an internal address is refused unless the
// platform admin allowed it. Without this option (or with a nil g) every
// internal address is refused.
func WithEgress(g *egress.Guard) OpenOption {
	return func(s *Store) { s.registries = g.Transport(RegistryPurpose) }
}

// upstreamText replaces what a registry or a refused dial said with what
// the caller may read. A registry's error body is the registry's own text
// (or, from whatever answered on a registry's address, anything at all),
// so only its status and the spec's error codes are kept; a refusal
// keeps its own message without the dial's, which shows the address a
// name resolved to.
func upstreamText(err error) (string, bool) {
	var refused *egress.RefusedError
	if errors.As(err, &refused) {
		return refused.Error(), true
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return "", false
	}
	msg := fmt.Sprintf("registry answered %d %s", te.StatusCode, http.StatusText(te.StatusCode))
	if te.Request != nil {
		msg = fmt.Sprintf("%s %s://%s%s: %s", te.Request.Method, te.Request.URL.Scheme, te.Request.URL.Host, te.Request.URL.Path, msg)
	}
	var codes []string
	for _, d := range te.Errors {
		if isRegistryCode(d.Code) {
			codes = append(codes, string(d.Code))
		}
	}
	if len(codes) > 0 {
		msg += " (" + strings.Join(codes, ", ") + ")"
	}
	return msg, true
}

// isRegistryCode reports whether c is one of the distribution spec's
// codes, so that a made-up "code" carrying text is not echoed either.
func isRegistryCode(c transport.ErrorCode) bool {
	switch c {
	case transport.BlobUnknownErrorCode, transport.BlobUploadInvalidErrorCode, transport.BlobUploadUnknownErrorCode,
		transport.DigestInvalidErrorCode, transport.ManifestBlobUnknownErrorCode, transport.ManifestInvalidErrorCode,
		transport.ManifestUnknownErrorCode, transport.ManifestUnverifiedErrorCode, transport.NameInvalidErrorCode,
		transport.NameUnknownErrorCode, transport.SizeInvalidErrorCode, transport.TagInvalidErrorCode,
		transport.UnauthorizedErrorCode, transport.DeniedErrorCode, transport.UnsupportedErrorCode,
		transport.TooManyRequestsErrorCode, transport.UnknownErrorCode, transport.UnavailableErrorCode:
		return true
	}
	return false
}

// scrubbed is an upstream error shown as upstreamText says, still
// matching what it wraps (classify reads the registry's status from it).
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub hides upstream text in err (see upstreamText).
func scrub(err error) error {
	if msg, ok := upstreamText(err); ok {
		return &scrubbed{msg: msg, err: err}
	}
	return err
}
