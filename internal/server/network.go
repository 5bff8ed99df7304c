package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/httpapi"
)

// proxyConfig gives the port proxy its domain and the secret that signs
// port URLs. The secret lives in <data-dir>/proxy-secret (0600), made on
// first start, so that signed URLs survive a restart.
func proxyConfig(cfg config.Config) (httpapi.ProxyConfig, error) {
	path := filepath.Join(cfg.DataDir, "proxy-secret")
	secret, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return httpapi.ProxyConfig{}, err
		}
		err = os.WriteFile(path, secret, 0o600)
	}
	if err != nil {
		return httpapi.ProxyConfig{}, fmt.Errorf("proxy secret: %w", err)
	}
	if len(secret) < 16 {
		return httpapi.ProxyConfig{}, fmt.Errorf("proxy secret %s is too short; remove it to make a new one", path)
	}
	return httpapi.ProxyConfig{Domain: cfg.ProxyDomain, Secret: secret, PublicURL: cfg.Compat.PublicBase()}, nil
}
