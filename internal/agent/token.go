package agent

import (
	"bufio"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
)

// tokenWait bounds how long a connection may take to name the token.
const tokenWait = 10 * time.Second

// withToken wraps ln so that each connection is served only after its
// first line carries the token init passed in protocol.TokenEnv; without
// one, ln is served as it is (a unix socket only the host reaches). The
// variable is removed from the agent's environment, which the processes
// it starts inherit.
func withToken(ln net.Listener) net.Listener {
	token, ok := os.LookupEnv(protocol.TokenEnv)
	if !ok {
		return ln
	}
	os.Unsetenv(protocol.TokenEnv)
	return &tokenListener{Listener: ln, token: token}
}

type tokenListener struct {
	net.Listener
	token string
}

// Accept returns the connection at once; its first Read checks the token,
// so that a slow caller holds up no other.
func (l *tokenListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tokenConn{Conn: c, token: l.token}, nil
}

type tokenConn struct {
	net.Conn
	token string
	once  sync.Once
	r     *bufio.Reader
	err   error
}

func (c *tokenConn) Read(p []byte) (int, error) {
	c.once.Do(func() {
		// The HTTP server sets its own deadline once the request's headers
		// are in.
		_ = c.Conn.SetReadDeadline(time.Now().Add(tokenWait))
		c.r = bufio.NewReader(c.Conn)
		if c.err = protocol.CheckToken(c.r, c.token); c.err != nil {
			c.Conn.Close()
		}
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.r.Read(p)
}
