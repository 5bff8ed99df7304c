package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// tokenParam carries a signed port token in the link handed out; the
// token becomes a cookie on first use (proxy_browser.go). Neither reaches
// the sandbox.
const tokenParam = "hutch_token"

// Limits of a signed port URL's lifetime.
const (
	defaultPortURLTTL = time.Hour
	maxPortURLTTL     = 7 * 24 * time.Hour
)

// signPort returns a token for port of sandbox id valid until exp:
// "<unix exp>.<hex HMAC-SHA256>". The MAC covers the sandbox, the port
// and the expiry, so a token opens nothing else and cannot be extended.
func signPort(secret []byte, id string, port int, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + hex.EncodeToString(portMAC(secret, id, port, e))
}

func portMAC(secret []byte, id string, port int, exp string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hutch-port\x00" + id + "\x00" + strconv.Itoa(port) + "\x00" + exp))
	return m.Sum(nil)
}

// verifyPort reports whether token opens port of sandbox id at now.
func verifyPort(secret []byte, id string, port int, token string, now time.Time) bool {
	if len(secret) == 0 || token == "" {
		return false
	}
	e, mac, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return false
	}
	got, err := hex.DecodeString(mac)
	return err == nil && hmac.Equal(got, portMAC(secret, id, port, e))
}

// tokenExpiry reads when token stops opening its port.
func tokenExpiry(token string) (time.Time, bool) {
	e, _, ok := strings.Cut(token, ".")
	if !ok {
		return time.Time{}, false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}
