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
	state := thawedState(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveControl(ln, "s3cret", &freezer{state: state}, nil)

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

// TestControlTake checks a held boot's side of a take: the state is HELD
// until a take arrives, the take reaches boot whole and is answered TAKEN
// once boot says init started, a second take is refused, and a boot that
// was not held refuses one.
func TestControlTake(t *testing.T) {
	state := thawedState(t)
	serve := func(h *holder) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go serveControl(ln, "s3cret", &freezer{state: state}, h)
		return ln.Addr().String()
	}
	ask := func(addr, cmd string) string {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, string(protocol.TokenLine("s3cret"))+cmd+"\n"); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}
	h := newHolder()
	addr := serve(h)
	if got := ask(addr, ControlState); got != StateHeld {
		t.Fatalf("state of a held boot: %q", got)
	}
	got := make(chan TakeRequest, 1)
	go func() {
		tk, _, ok := h.wait(make(chan os.Signal))
		if ok {
			got <- tk.req
			tk.done <- nil
		}
	}()
	take := ControlTake + ` {"args":["sleep","1"],"env":{"FOO":"bar"},"pids":99,"hostname":"sb-1"}`
	if ans := ask(addr, take); ans != StateTaken {
		t.Fatalf("take answered %q", ans)
	}
	req := <-got
	if len(req.Args) != 2 || req.Env["FOO"] != "bar" || req.Pids != 99 || req.Hostname != "sb-1" {
		t.Errorf("boot received %+v", req)
	}
	if ans := ask(addr, ControlState); ans != "THAWED" {
		t.Errorf("state after the take: %q", ans)
	}
	if ans := ask(addr, take); !strings.HasPrefix(ans, "error: taken already") {
		t.Errorf("second take answered %q", ans)
	}
	if ans := ask(serve(nil), take); !strings.HasPrefix(ans, "error: ") {
		t.Errorf("a boot that was not held answered a take with %q", ans)
	}
}

// thawedState is a plain file standing for the child's freezer.state,
// THAWED.
func thawedState(t *testing.T) *os.File {
	t.Helper()
	state, err := os.OpenFile(filepath.Join(t.TempDir(), "freezer.state"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { state.Close() })
	if _, err := state.WriteString("THAWED"); err != nil {
		t.Fatal(err)
	}
	return state
}
