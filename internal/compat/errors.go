package compat

import (
	"fmt"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func errInvalidToken(id string) error {
	return fmt.Errorf("missing, expired or invalid access token for sandbox %s: %w", id, errdefs.ErrUnauthenticated)
}
