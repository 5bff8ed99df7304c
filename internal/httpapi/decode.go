package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// decode reads one JSON object into v, strictly: unknown fields, wrong
// types, trailing data and bodies over 1 MiB are 400s that say what is
// wrong. allowEmpty treats an empty body as {}.
func decode(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	var seen bytes.Buffer // what was read, to name the key of a map's bad value
	dec := json.NewDecoder(io.TeeReader(body, &seen))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if allowEmpty {
			return nil
		}
		return fmt.Errorf("request body is empty; a JSON object is expected: %w", errdefs.ErrInvalidArgument)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field == "" {
		if key, ok := badMapKey(seen.Bytes(), v); ok {
			return errdefs.InvalidField(key, "expected %s, got %s", typ.Type, typ.Value)
		}
	}
	if err != nil {
		return jsonError(err)
	}
	tok, err := dec.Token()
	var tooBig *http.MaxBytesError
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return err
	case err == nil || tok != nil || errors.As(err, &syn):
		return fmt.Errorf("request body has data after the JSON object: %w", errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("read request body: %v: %w", err, errdefs.ErrInvalidArgument)
}

// badMapKey finds, when v is a map (a metadata or settings patch), the
// first key whose value does not decode into the map's element type:
// encoding/json names struct fields in its type errors, not map keys.
func badMapKey(raw []byte, v any) (string, bool) {
	t := reflect.TypeOf(v)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Map || t.Elem().Key().Kind() != reflect.String {
		return "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return "", false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if json.Unmarshal(m[k], reflect.New(t.Elem().Elem()).Interface()) != nil && k != "" {
			return k, true
		}
	}
	return "", false
}

// jsonError turns encoding/json's errors into messages naming the field.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at byte %d: %v: %w", syn.Offset, syn, errdefs.ErrInvalidArgument)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Errorf("request body must be a JSON object, not %s: %w", typ.Value, errdefs.ErrInvalidArgument)
		}
		return errdefs.InvalidField(field, "expected %s, got %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("malformed JSON: unexpected end of body: %w", errdefs.ErrInvalidArgument)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields; its message
		// is documented and stable.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if name == "" {
			return fmt.Errorf("request body has a field with an empty name: %w", errdefs.ErrInvalidArgument)
		}
		return errdefs.InvalidField(name, "unknown field")
	}
	return fmt.Errorf("invalid JSON: %v: %w", err, errdefs.ErrInvalidArgument)
}

// query parses the query string strictly: net/url's Query drops a pair it
// cannot decode without a word, which would turn a mistyped filter into
// no filter at all.
func query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return q, nil
}

// queryBool reads an optional boolean query parameter.
func queryBool(q url.Values, name string, def bool) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errdefs.InvalidField(name, "must be true or false, got %q", v)
	}
	return b, nil
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errdefs.InvalidField(name, "must be an integer from %d to %d, got %q", lo, hi, v)
	}
	return n, nil
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}
