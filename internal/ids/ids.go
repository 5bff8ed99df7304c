// Package ids makes the random identifiers of sandboxes, organisations and
// keys: a short readable prefix and 80 random bits in hex.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns prefix followed by 20 random hex characters.
func New(prefix string) string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return prefix + hex.EncodeToString(b)
}
