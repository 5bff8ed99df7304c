package protocol

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"io"
	"strings"
)

// A sandbox whose agent listens on a network (the kube driver's pods,
// reached at the pod's address) must refuse everyone but the host. Its
// init is given a token in TokenEnv; init hands it to the agent and keeps
// it from every other process, and the agent serves a connection only
// after its first line is TokenLine(token). Everything after that line is
// the usual HTTP.
const TokenEnv = "HUTCH_AGENT_TOKEN"

const tokenPrefix = "HUTCH-AGENT-TOKEN "

// maxTokenLine bounds what the agent reads before it knows the caller.
const maxTokenLine = 256

// TokenLine is the line the host sends first on a connection to an agent
// that wants a token.
func TokenLine(token string) []byte { return []byte(tokenPrefix + token + "\n") }

// ErrBadToken is a connection whose first line is not the agent's token.
var ErrBadToken = errors.New("agent token refused")

// CheckToken reads the first line of a connection from r and reports
// whether it carries token; r then holds what follows.
func CheckToken(r *bufio.Reader, token string) error {
	var line []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ErrBadToken
			}
			return err
		}
		if b == '\n' {
			break
		}
		if len(line) >= maxTokenLine {
			return ErrBadToken
		}
		line = append(line, b)
	}
	got, ok := strings.CutPrefix(string(line), tokenPrefix)
	if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return ErrBadToken
	}
	return nil
}
