package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/server"
)

func tlsCfg(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.SeedImages = ""
	return cfg
}

// pinnedClient trusts only the certificate with fingerprint fp and speaks
// HTTP/2 when the server offers it.
func pinnedClient(fp string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: server.PinnedTLS(fp), ForceAttemptHTTP2: true}}
}

var fingerprintRE = regexp.MustCompile(`(?m)^\s+([0-9A-F]{2}(:[0-9A-F]{2}){31})\s*$`)

// TestTLSSelfSigned: the server prints its certificate's fingerprint, a
// client that pins it is served over HTTP/2, and clients that trust the
// system roots or pin another certificate are refused. A restart keeps
// the certificate.
func TestTLSSelfSigned(t *testing.T) {
	cfg := tlsCfg(t)
	cfg.HTTP.TLS.SelfSigned = true
	url, out, stop := start(t, cfg)
	m := fingerprintRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no fingerprint printed:\n%s", out)
	}
	fp := m[1]
	url = strings.Replace(url, "http://", "https://", 1)
	resp, err := pinnedClient(fp).Get(url + "/healthz")
	if err != nil {
		t.Fatalf("pinned client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("healthz over TLS: %d %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("a client trusting the system roots accepted the self-signed certificate")
	}
	other := strings.Repeat("AB:", 31) + "AB"
	if _, err := pinnedClient(other).Get(url + "/healthz"); err == nil {
		t.Fatal("a client pinning another fingerprint was served")
	}
	stop()
	cfg.Listen = strings.TrimPrefix(url, "https://")
	_, out2, _ := start(t, cfg)
	if m2 := fingerprintRE.FindStringSubmatch(out2.String()); m2 == nil || m2[1] != fp {
		t.Fatalf("restart changed the certificate: %q, was %s", out2, fp)
	}
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and
// returns its fingerprint.
func writeCert(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	// The key first: a reload between the two writes fails and keeps the
	// old pair, and the certificate's write then triggers another.
	if err := os.WriteFile(keyFile+".new", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile+".new", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(keyFile+".new", keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(certFile+".new", certFile); err != nil {
		t.Fatal(err)
	}
	return server.Fingerprint(der)
}

// served waits until the server presents the certificate fp.
func served(t *testing.T, url, fp string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := pinnedClient(fp).Get(url + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never presented %s: %v", fp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTLSCertificateReloads serves the operator's certificate, then a
// replaced one after SIGHUP, then another after its files change alone.
func TestTLSCertificateReloads(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile)
	cfg := tlsCfg(t)
	cfg.HTTP.TLS.CertFile, cfg.HTTP.TLS.KeyFile = certFile, keyFile
	url, _, _ := start(t, cfg)
	url = strings.Replace(url, "http://", "https://", 1)
	served(t, url, first)

	// Files changed within the same second as the load may keep their
	// modification time: SIGHUP reloads regardless.
	second := writeCert(t, certFile, keyFile)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	served(t, url, second)

	third := writeCert(t, certFile, keyFile)
	later := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	served(t, url, third)
	// A new connection no longer gets the first certificate.
	if _, err := pinnedClient(first).Get(url + "/healthz"); err == nil {
		t.Fatal("the first certificate is still served")
	}
}

func TestTLSRefusesAMissingKey(t *testing.T) {
	cfg := tlsCfg(t)
	cfg.HTTP.TLS.CertFile, cfg.HTTP.TLS.KeyFile = filepath.Join(t.TempDir(), "none.pem"), filepath.Join(t.TempDir(), "none.key")
	err := server.Run(context.Background(), cfg, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.Contains(err.Error(), "none.pem") {
		t.Fatalf("Run with missing certificate files: %v", err)
	}
}
