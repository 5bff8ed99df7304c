package e2b

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// signedToken checks the signature of a URL made by the SDK's uploadUrl
// or downloadUrl (envd's v1 scheme: the SHA-256 of path, operation, user,
// the sandbox's access token and the optional expiry) and answers the
// token it proves the holder of, so that such a URL works without the
// X-Access-Token header. The SDK builds these URLs at the root of its
// sandbox URL, so they work on the host form (49983-<id>.<domain>).
func (f *face) signedToken(r *http.Request) (string, error) {
	q := r.URL.Query()
	id := sandboxOf(r.Context(), r.Header)
	if id == "" {
		return "", errdefs.InvalidField(sandboxHeader, "names no sandbox: use the host 49983-<id>.<domain>")
	}
	op := "read"
	if r.Method == http.MethodPost {
		op = "write"
	}
	token := f.token(id)
	raw := fmt.Sprintf("%s:%s:%s:%s", q.Get("path"), op, q.Get("username"), token)
	if exp := q.Get("signature_expiration"); exp != "" {
		n, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return "", errdefs.InvalidField("signature_expiration", "must be a Unix time in seconds")
		}
		if time.Now().Unix() > n {
			return "", fmt.Errorf("the signed URL expired at %s: %w", time.Unix(n, 0).UTC().Format(time.RFC3339), errdefs.ErrUnauthenticated)
		}
		raw += ":" + exp
	}
	sum := sha256.Sum256([]byte(raw))
	want := "v1_" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "=")
	if subtle.ConstantTimeCompare([]byte(want), []byte(q.Get("signature"))) != 1 {
		return "", fmt.Errorf("the URL's signature does not match sandbox %s: %w", id, errdefs.ErrUnauthenticated)
	}
	return token, nil
}
