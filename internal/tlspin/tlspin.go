// Package tlspin trusts a server's certificate by its SHA-256 fingerprint,
// whoever signed it: how the CLI, the SDK and the tests reach a server
// started with --tls-self-signed, whose fingerprint it prints.
package tlspin

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
)

// Fingerprint is the SHA-256 of a DER certificate as colon-separated
// upper-case hex, the form `openssl x509 -fingerprint -sha256` prints.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// ErrMismatch is the refusal of a certificate that is not the pinned one.
var ErrMismatch = errors.New("the server's certificate does not have the pinned SHA-256 fingerprint")

// Config trusts exactly the certificate whose fingerprint is fp
// (Fingerprint's form; colons and case do not matter).
func Config(fp string) *tls.Config {
	want := normal(fp)
	return &tls.Config{
		// The chain is not verified against any root: the pin below is
		// the whole check, and it is stricter (one certificate only).
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || normal(Fingerprint(raw[0])) != want {
				return ErrMismatch
			}
			return nil
		},
	}
}

func normal(fp string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(fp), ":", ""))
}
