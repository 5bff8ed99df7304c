package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// OpenAPIYAML is the native API's contract as written by hand. It is
// embedded so that the binary serves exactly the document its tests check.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPIJSON converts OpenAPIYAML to JSON for GET /v1/openapi.json, since
// most OpenAPI tooling fetches JSON.
func OpenAPIJSON() ([]byte, error) {
	j, err := yaml.YAMLToJSON(OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml to json: %w", err)
	}
	return j, nil
}

// Route is one operation of the spec: an HTTP method in upper case and a
// path template with parameters in braces, such as /v1/sandboxes/{id}.
type Route struct {
	Method string
	Path   string
}

// String renders r as "METHOD /path", the form used in test failures.
func (r Route) String() string { return r.Method + " " + r.Path }

// httpMethods are the OpenAPI path-item keys that name operations; other
// keys (parameters, summary, servers) are not routes.
var httpMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// Routes lists every operation in the spec, sorted by path then method, so
// that a test can compare it with the routes the server registers and
// neither side can gain or lose one unnoticed.
func Routes() ([]Route, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	var routes []Route
	for path, item := range doc.Paths {
		for key := range item {
			if httpMethods[key] {
				routes = append(routes, Route{Method: strings.ToUpper(key), Path: path})
			}
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes, nil
}
