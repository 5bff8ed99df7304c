package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/tlspin"
)

// certWatch is how often the certificate files are checked for a change.
const certWatch = 2 * time.Second

// certSource serves the listeners' certificate and re-reads it from its
// files when they change or the process gets SIGHUP, so that a renewed
// certificate (certbot, an ACME client, a secret mount) takes effect
// without a restart. A reload that fails keeps the certificate in use.
type certSource struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	changed time.Time // the newer of the files' modification times
}

func newCertSource(certFile, keyFile string, log *slog.Logger) (*certSource, error) {
	c := &certSource{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads both files and swaps the certificate in.
func (c *certSource) reload() error {
	changed := c.modTime()
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.mu.Lock()
	c.cert, c.changed = &cert, changed
	c.mu.Unlock()
	c.log.Info("TLS certificate loaded", "cert", c.certFile, "sha256", Fingerprint(cert.Certificate[0]))
	return nil
}

func (c *certSource) modTime() time.Time {
	var newest time.Time
	for _, f := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(f); err == nil && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest
}

func (c *certSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert, nil
}

// watch reloads on SIGHUP and whenever the files' modification time
// moves, until ctx ends.
func (c *certSource) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(certWatch)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := c.reload(); err != nil {
				c.log.Error("SIGHUP: TLS certificate not reloaded; the old one stays", "err", err)
			}
		case <-t.C:
			c.mu.Lock()
			changed := c.changed
			c.mu.Unlock()
			if m := c.modTime(); m.After(changed) {
				if err := c.reload(); err != nil {
					c.log.Error("TLS certificate files changed but do not load; the old one stays", "err", err)
				}
			}
		}
	}
}

// tlsConfig is the listeners' TLS configuration; nil when TLS is off.
// For a self-signed certificate it prints the fingerprint to stdout, for
// clients to pin.
func tlsConfig(ctx context.Context, cfg config.Config, stdout io.Writer, log *slog.Logger) (*tls.Config, error) {
	t := cfg.HTTP.TLS
	if !t.On() {
		return nil, nil
	}
	certFile, keyFile := t.CertFile, t.KeyFile
	if t.SelfSigned {
		dir := filepath.Join(cfg.DataDir, "tls")
		certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		fp, made, err := ensureSelfSigned(dir, certFile, keyFile, selfSignedNames(cfg))
		if err != nil {
			return nil, err
		}
		verb := "Using the"
		if made {
			verb = "Made a"
		}
		fmt.Fprintf(stdout, "%s self-signed TLS certificate (%s). Its SHA-256 fingerprint, for clients to pin:\n\n    %s\n\n", verb, certFile, fp)
	}
	src, err := newCertSource(certFile, keyFile, log)
	if err != nil {
		return nil, err
	}
	go src.watch(ctx)
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: src.getCertificate,
		NextProtos: []string{"h2", "http/1.1"}}, nil
}

// selfSignedNames are the names a self-signed certificate is made for:
// loopback, this host's name, the listen address and the proxy domain's
// wildcard (the host form of port URLs).
func selfSignedNames(cfg config.Config) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil && host != "" && host != "0.0.0.0" && host != "::" {
		names = append(names, host)
	}
	if d := cfg.ProxyDomain; d != "" {
		names = append(names, d, "*."+d)
	}
	return names
}

// ensureSelfSigned makes an ECDSA P-256 certificate for names, valid ten
// years, unless dir already has one; it returns the certificate's SHA-256
// fingerprint and whether it made it.
func ensureSelfSigned(dir, certFile, keyFile string, names []string) (fingerprint string, made bool, err error) {
	if b, err := os.ReadFile(certFile); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if _, err := os.Stat(keyFile); err == nil {
				return Fingerprint(blk.Bytes), false, nil
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("tls: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", false, fmt.Errorf("tls: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", false, fmt.Errorf("tls: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "hutch self-signed"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", false, fmt.Errorf("tls: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", false, fmt.Errorf("tls: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", false, fmt.Errorf("tls: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", false, fmt.Errorf("tls: %w", err)
	}
	return Fingerprint(der), true, nil
}

// Fingerprint is tlspin.Fingerprint, as the server prints it.
func Fingerprint(der []byte) string { return tlspin.Fingerprint(der) }

// PinnedTLS is tlspin.Config: a client configuration that trusts the
// certificate with fingerprint fp only.
func PinnedTLS(fp string) *tls.Config { return tlspin.Config(fp) }
