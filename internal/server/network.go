package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/store"
)

// proxyConfig gives the port proxy its domain and the secret that signs
// port URLs. The secret lives in <data-dir>/proxy-secret (0600), made on
// first start, so that signed URLs survive a restart; on a store that
// replicas share it lives in the database (sharedProxySecret).
func proxyConfig(ctx context.Context, cfg config.Config, st store.Store) (httpapi.ProxyConfig, error) {
	path := filepath.Join(cfg.DataDir, "proxy-secret")
	secret, err := os.ReadFile(path)
	if shared, ok := st.(sharedSecrets); ok && (err == nil || errors.Is(err, os.ErrNotExist)) {
		secret, err = sharedProxySecret(ctx, shared, secret)
	} else if errors.Is(err, os.ErrNotExist) {
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

// sharedSecrets is a store that keeps secrets every replica shares
// (postgres.Store).
type sharedSecrets interface {
	SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// sharedProxySecret returns the proxy secret of the database, which the
// first replica to start chooses: the one this server kept in its data
// dir before (inFile, so that the URLs it signed stay valid), or a new
// one. Every replica then signs and checks with the same key.
func sharedProxySecret(ctx context.Context, st sharedSecrets, inFile []byte) ([]byte, error) {
	fresh := inFile
	if len(fresh) < 16 {
		fresh = make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
	}
	return st.SharedSecret(ctx, "proxy", fresh)
}
