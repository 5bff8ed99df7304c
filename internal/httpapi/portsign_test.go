package httpapi

import (
	"strings"
	"testing"
	"time"
)

func TestPortTokens(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tok := signPort(secret, "sbx_a", 8080, now.Add(time.Minute))
	other := "0"
	if strings.HasSuffix(tok, "0") {
		other = "1"
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		id     string
		port   int
		token  string
		at     time.Time
		ok     bool
	}{
		{"valid", secret, "sbx_a", 8080, tok, now, true},
		{"at expiry", secret, "sbx_a", 8080, tok, now.Add(time.Minute), false},
		{"other port", secret, "sbx_a", 8081, tok, now, false},
		{"other sandbox", secret, "sbx_b", 8080, tok, now, false},
		{"other secret", []byte("another secret of thirty-two b.."), "sbx_a", 8080, tok, now, false},
		{"no secret", nil, "sbx_a", 8080, tok, now, false},
		{"extended expiry", secret, "sbx_a", 8080, "9999999999" + tok[10:], now, false},
		{"tampered MAC", secret, "sbx_a", 8080, tok[:len(tok)-1] + other, now, false},
		{"upper-case MAC", secret, "sbx_a", 8080, strings.ToUpper(tok), now, true},
		{"garbage", secret, "sbx_a", 8080, "x.y", now, false},
		{"empty", secret, "sbx_a", 8080, "", now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verifyPort(tc.secret, tc.id, tc.port, tc.token, tc.at); got != tc.ok {
				t.Fatalf("verify = %v, want %v", got, tc.ok)
			}
		})
	}
}
