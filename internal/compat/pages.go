package compat

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Cursor pages: a vendor's opaque cursor is the next page number, so that
// pages stay in the store's SQL (newest first) like the native API's.

// EncodeCursor returns the cursor of page.
func EncodeCursor(page int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("p" + strconv.Itoa(page)))
}

// DecodeCursor reads a cursor (empty: the first page); a cursor this
// server did not make is a 400 naming field.
func DecodeCursor(field, cursor string) (int, error) {
	if cursor == "" {
		return 1, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "p")); err == nil && n >= 1 && strings.HasPrefix(string(raw), "p") {
			return n, nil
		}
	}
	return 0, errdefs.InvalidField(field, "is not a cursor this server returned")
}

// PageSize reads a page size (empty: def), bounded by max; a value that
// is not a positive integer is a 400 naming field.
func PageSize(field, v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errdefs.InvalidField(field, "must be a positive integer, got %q", v)
	}
	if n > max {
		n = max
	}
	return n, nil
}
