package server

import (
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
// no cap it returns ln itself.
func (l *connLimiter) Listener(ln net.Listener) net.Listener {
	if l == nil || l.max <= 0 {
		return ln
	}
	return &limitedListener{Listener: ln, l: l}
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
// a reset.
func (l *connLimiter) refuse(c net.Conn, key netip.Addr) {
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
	l *connLimiter
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
			ln.l.refuse(c, key)
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
