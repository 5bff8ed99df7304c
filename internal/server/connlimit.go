package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// connLimiter caps the connections one client address may hold open
// across every listener of the server: 3,000 idle keep-alive connections
// from one client used to stay open for ever. Over the cap, a new
// connection is answered 429 (with Retry-After and the cap in the body)
// and closed at once, before any of its request is served; a client
// whose address cannot be read (not TCP) is not counted.
type connLimiter struct {
	max int
	log *slog.Logger

	mu   sync.Mutex
	open map[netip.Addr]int
	// refusing bounds the connections being refused at once (each gets
	// up to refuseLinger to read its 429); past it they are closed bare.
	refusing chan struct{}
	warned   map[netip.Addr]time.Time
}

// refuseLinger is how long a refused connection may take to read its 429.
const refuseLinger = time.Second

func newConnLimiter(max int, log *slog.Logger) *connLimiter {
	return &connLimiter{max: max, log: log, open: map[netip.Addr]int{}, refusing: make(chan struct{}, 64),
		warned: map[netip.Addr]time.Time{}}
}

// Listener wraps ln so that its connections count against the cap; with
// no cap it returns ln itself. With tlsCfg (a listener served with TLS),
// a refusal is a TLS handshake and a 429 inside it, as the client speaks.
func (l *connLimiter) Listener(ln net.Listener, tlsCfg *tls.Config) net.Listener {
	if l == nil || l.max <= 0 {
		return ln
	}
	ll := &limitedListener{Listener: ln, l: l}
	if tlsCfg != nil {
		// The 429 is HTTP/1.1: ALPN settles on it, and a client that
		// speaks only h2 gets the handshake's alert instead.
		ll.tls = tlsCfg.Clone()
		ll.tls.NextProtos = []string{"http/1.1"}
	}
	return ll
}

// clientKey is the address a cap applies to: an IPv4 address, or the /64
// of an IPv6 one (one client is handed a whole /64).
func clientKey(a net.Addr) (netip.Addr, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// take counts one more connection of key, unless key is at the cap.
func (l *connLimiter) take(key netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return false
	}
	l.open[key]++
	return true
}

func (l *connLimiter) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// refuse answers c 429 and closes it. The answer goes out before the
// request is read; the connection then half-closes and drains what the
// client sent for a moment, so that the client reads the 429 rather than
// a reset. On a TLS listener (tlsCfg set) the answer goes inside a
// handshake made first, within the same moment.
func (l *connLimiter) refuse(c net.Conn, key netip.Addr, tlsCfg *tls.Config) {
	l.warn(key)
	select {
	case l.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		body := fmt.Sprintf(`{"error":{"code":"RESOURCE_EXHAUSTED","message":"too many connections from %s: at most %d may be open at once (--max-conns-per-ip); close idle ones or retry"}}`+"\n",
			key, l.max)
		_ = c.SetDeadline(time.Now().Add(refuseLinger))
		if tlsCfg != nil {
			tc := tls.Server(c, tlsCfg)
			if tc.Handshake() != nil {
				return
			}
			defer tc.Close() // its close_notify, before the TCP close
			c = tc
		}
		_, err := fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		if err != nil {
			return
		}
		if tc, ok := c.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
}

// warn logs a client at the cap, at most once a minute per address.
func (l *connLimiter) warn(key netip.Addr) {
	l.mu.Lock()
	last, now := l.warned[key], time.Now()
	if now.Sub(last) < time.Minute {
		l.mu.Unlock()
		return
	}
	l.warned[key] = now
	for k, t := range l.warned {
		if now.Sub(t) >= time.Minute && k != key {
			delete(l.warned, k)
		}
	}
	l.mu.Unlock()
	l.log.Warn("client at its connection cap; refusing new connections with 429", "client", key.String(), "max", l.max)
}

type limitedListener struct {
	net.Listener
	l   *connLimiter
	tls *tls.Config // refusals' handshake on a TLS listener; nil: plain
}

// Accept returns the next connection under the cap; those over it are
// refused without reaching the HTTP server.
func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := clientKey(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		if !ln.l.take(key) {
			ln.l.refuse(c, key, ln.tls)
			continue
		}
		return &countedConn{Conn: c, release: sync.OnceFunc(func() { ln.l.release(key) })}, nil
	}
}

// countedConn gives its place back when closed, by the HTTP server or by
// a handler that hijacked it.
type countedConn struct {
	net.Conn
	release func()
}

func (c *countedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// CloseWrite passes a half-close through to TCP (the port proxy and
// hijacked streams use it).
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom and WriteTo keep the kernel's splice and sendfile paths of the
// TCP connection underneath (file downloads, the port proxy).
func (c *countedConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

func (c *countedConn) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, c.Conn) }
