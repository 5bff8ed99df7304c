package protocol

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCheckToken(t *testing.T) {
	const token = "0123abcd"
	for _, c := range []struct {
		name, input string
		ok          bool
	}{
		{"right", string(TokenLine(token)) + "GET / HTTP/1.1\r\n", true},
		{"wrong", string(TokenLine("0123abce")) + "GET / HTTP/1.1\r\n", false},
		{"prefix of the token", string(TokenLine("0123")), false},
		{"no token line", "GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n", false},
		{"cut short", "HUTCH-AGENT-TOKEN 0123abcd", false},
		{"endless line", strings.Repeat("A", 10000) + "\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(c.input))
			err := CheckToken(r, token)
			if c.ok != (err == nil) {
				t.Fatalf("CheckToken = %v, want ok %v", err, c.ok)
			}
			if !c.ok && !errors.Is(err, ErrBadToken) {
				t.Fatalf("CheckToken = %v, want ErrBadToken", err)
			}
			if c.ok {
				rest, _ := io.ReadAll(r)
				if string(rest) != "GET / HTTP/1.1\r\n" {
					t.Fatalf("after the token line: %q", rest)
				}
			}
		})
	}
	if err := CheckToken(bufio.NewReader(strings.NewReader(string(TokenLine("")))), ""); err == nil {
		t.Fatal("an empty token was accepted")
	}
}
