package podinit

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
)

// TestControlNeedsToken checks that boot's control port answers only a
// caller that names the pod's token, and freezes (here a plain file
// stands for the child's freezer.state) only then.
func TestControlNeedsToken(t *testing.T) {
	dir := t.TempDir()
	state, err := os.OpenFile(filepath.Join(dir, "freezer.state"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { state.Close() })
	if _, err := state.WriteString("THAWED"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveControl(ln, "s3cret", &freezer{state: state})

	ask := func(first string) string {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, first+ControlFreeze+"\n"); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}
	for _, first := range []string{"", string(protocol.TokenLine("wrong")), "HUTCH-AGENT-TOKEN \n"} {
		if got := ask(first); got != "" {
			t.Errorf("first line %q: answered %q", first, got)
		}
	}
	if b, _ := os.ReadFile(state.Name()); string(b) != "THAWED" {
		t.Fatalf("frozen without the token: %q", b)
	}
	if got := ask(string(protocol.TokenLine("s3cret"))); got != StateFrozen {
		t.Fatalf("with the token: answered %q", got)
	}
}
