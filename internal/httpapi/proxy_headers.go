package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// keyHeaders are the headers in which some face of Hutch reads an API
// key (the native API and E2B's X-API-Key, OpenSandbox's own); they never
// reach a sandbox, whatever their value.
var keyHeaders = []string{"X-API-Key", "Open-Sandbox-Api-Key"}

// carriesKey reports whether an Authorization value holds a Hutch API
// key: as a Bearer token, either half of Basic credentials, or bare. A
// key is recognised by its prefix, or else by the key store (keys given
// with --api-key may lack the prefix); if the store cannot say, the
// header is treated as a key. Other credentials are the app's own and
// pass.
func (s *Server) carriesKey(ctx context.Context, authz string) bool {
	authz = strings.TrimSpace(authz)
	if authz == "" {
		return false
	}
	scheme, cred, ok := strings.Cut(authz, " ")
	cands := []string{authz}
	if ok {
		cred = strings.TrimSpace(cred)
		cands = []string{cred}
		if strings.EqualFold(scheme, "Basic") {
			if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
				user, pass, _ := strings.Cut(string(b), ":")
				cands = []string{user, pass}
			}
		}
	}
	for _, c := range cands {
		if hasKeyPrefix(c) {
			return true
		}
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		_, err := s.Auth.GetAPIKeyByHash(ctx, auth.Hash(c))
		if !errors.Is(err, errdefs.ErrNotFound) {
			return true // found, or the store failed: do not risk it
		}
	}
	return false
}

func hasKeyPrefix(v string) bool { return strings.HasPrefix(strings.TrimSpace(v), auth.KeyPrefix) }

// stripCredentials removes every Hutch credential from a request bound
// for a sandbox: the key headers, Authorization when it carries a key
// (dropAuthz), any other header holding a key-shaped word, the proxy's
// token cookies and any cookie whose value is a key.
func stripCredentials(h http.Header, dropAuthz bool) {
	for _, k := range keyHeaders {
		h.Del(k)
	}
	if dropAuthz {
		h.Del("Authorization")
	}
	for name, vs := range h {
		if name == "Authorization" || name == "Cookie" {
			continue
		}
		for _, v := range vs {
			if containsKeyWord(v) {
				delete(h, name)
				break
			}
		}
	}
	stripCookies(h)
}

// containsKeyWord reports whether a word of v (split at spaces, commas,
// semicolons and equals signs) starts with the key prefix.
func containsKeyWord(v string) bool {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '=' || r == '\t' }) {
		if strings.HasPrefix(f, auth.KeyPrefix) {
			return true
		}
	}
	return false
}

// stripCookies removes the proxy's own cookies, and any cookie holding
// an API key, from a forwarded request.
func stripCookies(h http.Header) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var keep []string
	for _, line := range lines {
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			name, value, _ := strings.Cut(part, "=")
			if part == "" || isTokenCookie(strings.TrimSpace(name)) || hasKeyPrefix(strings.Trim(strings.TrimSpace(value), `"`)) {
				continue
			}
			keep = append(keep, part)
		}
	}
	h.Del("Cookie")
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}

// dropQueryParam removes every name=... pair from a raw query, leaving
// the others as the client wrote them (re-encoding would reorder them).
func dropQueryParam(raw, name string) string {
	if raw == "" {
		return raw
	}
	var keep []string
	for _, part := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); k == name || err == nil && uk == name {
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, "&")
}

// setForwarded replaces what a client claimed about the request's path
// and peer with what the proxy knows: X-Forwarded-Prefix only in the path
// form, X-Real-IP the connection's peer, no Forwarded. (ReverseProxy's
// Rewrite has already dropped the client's X-Forwarded-For, -Host and
// -Proto, and SetXForwarded sets them.)
func setForwarded(h http.Header, prefix, remoteAddr string) {
	h.Del("X-Forwarded-Prefix")
	h.Del("Forwarded")
	h.Del("X-Real-Ip")
	if prefix != "" {
		h.Set("X-Forwarded-Prefix", prefix)
	}
	if ip, _, err := net.SplitHostPort(remoteAddr); err == nil {
		h.Set("X-Real-Ip", ip)
	}
}

// secureResponse applies the browser rules to an app's response. Both
// forms: no Clear-Site-Data (its "cookies" clears the whole site, every
// sibling sandbox's included), no Set-Cookie of the proxy's own names,
// and no Domain attribute (a cookie binds to the host that set it, not
// to the parent domain every sandbox shares). The path form, where
// every sandbox shares the API's origin, also: cookie paths moved under
// the sandbox's own prefix, no Service-Worker-Allowed, and a CSP sandbox
// that gives each page an opaque origin.
func secureResponse(h http.Header, prefix string) {
	h.Del("Clear-Site-Data")
	if prefix != "" {
		h.Del("Service-Worker-Allowed")
		h.Add("Content-Security-Policy", pathFormCSP)
	}
	lines := h.Values("Set-Cookie")
	if len(lines) == 0 {
		return
	}
	h.Del("Set-Cookie")
	for _, line := range lines {
		if out, ok := rewriteSetCookie(line, prefix); ok {
			h.Add("Set-Cookie", out)
		}
	}
}

// rewriteSetCookie drops Domain attributes and, with a path-form prefix,
// puts Path under it (the app sees its own paths without the prefix, so
// its Path=/ means the prefix). A Path that does not start with "/"
// makes the browser use the request's directory, already under the
// prefix. ok is false for a cookie the app may not set.
func rewriteSetCookie(line, prefix string) (string, bool) {
	parts := strings.Split(line, ";")
	name, _, _ := strings.Cut(parts[0], "=")
	if isTokenCookie(strings.TrimSpace(name)) {
		return "", false
	}
	out := []string{strings.TrimSpace(parts[0])}
	for _, a := range parts[1:] {
		a = strings.TrimSpace(a)
		k, v, _ := strings.Cut(a, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "domain":
			continue
		case "path":
			if v = strings.TrimSpace(v); prefix != "" && strings.HasPrefix(v, "/") {
				a = "Path=" + prefix + v
			}
		}
		if a != "" {
			out = append(out, a)
		}
	}
	return strings.Join(out, "; "), true
}
