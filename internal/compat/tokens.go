package compat

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
)

// Tokens signs the per-sandbox tokens that vendor SDKs send to their
// in-sandbox agent (HopX auth_token, E2B envdAccessToken). A token names
// its vendor, its sandbox and its expiry and carries an HMAC under the
// server's secret, so any replica checks it without a store lookup, and a
// token of one sandbox never opens another. Tokens stay valid across
// pause and resume (E2B's SDK keeps the one it had).
type Tokens struct {
	Secret []byte
	Now    func() time.Time // nil: time.Now
}

// IssueFor returns a token of vendor for sandboxID that lives ttl from
// now, and when it expires (to the second, as tokens record it).
func (t Tokens) IssueFor(vendor, sandboxID string, ttl time.Duration) (string, time.Time) {
	until := t.now().Add(ttl).UTC().Truncate(time.Second)
	return t.Issue(vendor, sandboxID, until), until
}

func (t Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Issue returns a token of vendor for sandboxID, valid until expires
// (the zero time: until the sandbox is gone).
func (t Tokens) Issue(vendor, sandboxID string, expires time.Time) string {
	var exp [8]byte
	if !expires.IsZero() {
		binary.BigEndian.PutUint64(exp[:], uint64(expires.Unix()))
	}
	sum := t.mac(vendor, sandboxID, exp[:])
	return vendor + "_" + base64.RawURLEncoding.EncodeToString(append(exp[:], sum[:18]...))
}

// Valid reports whether token is a live token of vendor for sandboxID.
func (t Tokens) Valid(vendor, sandboxID, token string) bool {
	if len(t.Secret) == 0 {
		return false
	}
	body, ok := strings.CutPrefix(token, vendor+"_")
	if !ok {
		return false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) != 8+18 {
		return false
	}
	exp := binary.BigEndian.Uint64(raw[:8])
	if exp != 0 && t.now().Unix() >= int64(exp) {
		return false
	}
	sum := t.mac(vendor, sandboxID, raw[:8])
	return hmac.Equal(sum[:18], raw[8:])
}

func (t Tokens) mac(vendor, sandboxID string, exp []byte) []byte {
	m := hmac.New(sha256.New, t.Secret)
	m.Write([]byte("hutch-agent-token\x00" + vendor + "\x00" + sandboxID + "\x00"))
	m.Write(exp)
	return m.Sum(nil)
}
