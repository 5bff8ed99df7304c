package agent

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// tunnel joins the caller to a server on the sandbox's loopback, for a
// host that cannot enter the sandbox's network namespace itself (a pod
// on another node): the request names the port and asks for an upgrade
// to protocol.TunnelUpgrade; after the 101 answer the connection carries
// that port's bytes both ways until either side closes.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request) {
	port, err := strconv.Atoi(r.URL.Query().Get("port"))
	if err != nil || port < 1 || port > 65535 {
		writeError(w, r, fmt.Errorf("port %q: a number from 1 to 65535: %w", r.URL.Query().Get("port"), errdefs.ErrInvalidArgument))
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), protocol.TunnelUpgrade) {
		writeError(w, r, fmt.Errorf("the tunnel needs the header Upgrade: %s: %w", protocol.TunnelUpgrade, errdefs.ErrInvalidArgument))
		return
	}
	var d net.Dialer
	up, err := d.DialContext(r.Context(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		writeError(w, r, fmt.Errorf("nothing answers on port %d: %v: %w", port, err, errdefs.ErrUnavailable))
		return
	}
	defer up.Close()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, r, fmt.Errorf("tunnel: %w", err))
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n%s: %d\r\n\r\n",
		protocol.TunnelUpgrade, protocol.HeaderVersion, protocol.Version())
	if err := buf.Flush(); err != nil {
		return
	}
	// What the caller sent after its request may already be buffered.
	splice(up, io.MultiReader(io.LimitReader(buf.Reader, int64(buf.Reader.Buffered())), conn), conn, up)
}

// splice copies a's reader to b and b's reader to a until both
// directions end; a direction that ends closes the write side of its
// destination, so a half-close passes through.
func splice(toUp net.Conn, fromDown io.Reader, toDown net.Conn, fromUp io.Reader) {
	var wg sync.WaitGroup
	wg.Add(2)
	copyHalf := func(dst net.Conn, src io.Reader) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	go copyHalf(toUp, fromDown)
	go copyHalf(toDown, fromUp)
	wg.Wait()
}
