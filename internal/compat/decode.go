package compat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// maxBody bounds a control-plane request body.
const maxBody = 1 << 20

// Decode reads a JSON body into v. Unlike the native API it accepts
// fields it does not know (vendor SDKs send fields of their newer
// versions), but a wrong type is a 400 naming the field. An empty body
// leaves v as it is, as SDKs that POST actions without a body expect; so
// does a form-encoded one (Daytona's actions carry that content type and
// nothing else).
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	raw, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fmt.Errorf("request body is larger than %d bytes: %w", tooBig.Limit, errdefs.ErrInvalidArgument)
	case err != nil:
		return fmt.Errorf("read request body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if len(strings.TrimSpace(string(raw))) == 0 || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return nil
	}
	err = json.Unmarshal(raw, v)
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typ) && typ.Field != "":
		return errdefs.InvalidField(typ.Field, "expected %s, got %s", typ.Type, typ.Value)
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %v: %w", syn.Offset, err, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("invalid JSON: %v: %w", err, errdefs.ErrInvalidArgument)
}
