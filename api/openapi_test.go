package api

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// schema is the part of an OpenAPI schema object the tests look at.
type schema struct {
	Ref        string             `json:"$ref"`
	Type       string             `json:"type"`
	Nullable   bool               `json:"nullable"`
	Required   []string           `json:"required"`
	Properties map[string]*schema `json:"properties"`
	Items      *schema            `json:"items"`
}

func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	j, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatalf("openapi json: %v", err)
	}
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi version = %v", doc["openapi"])
	}
	return doc
}

func loadSchemas(t *testing.T) map[string]*schema {
	t.Helper()
	j, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas
}

var camelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

func TestSchemaPropertiesAreCamelCase(t *testing.T) {
	var walk func(path string, s *schema)
	walk = func(path string, s *schema) {
		if s == nil {
			return
		}
		for name, p := range s.Properties {
			if !camelCase.MatchString(name) {
				t.Errorf("%s.%s is not camelCase", path, name)
			}
			walk(path+"."+name, p)
		}
		walk(path+"[]", s.Items)
	}
	schemas := loadSchemas(t)
	if len(schemas) < 20 {
		t.Fatalf("only %d schemas parsed", len(schemas))
	}
	for name, s := range schemas {
		walk(name, s)
	}
}

// TestRefsResolve catches a typo in a $ref, which YAML parsing alone lets through.
func TestRefsResolve(t *testing.T) {
	doc := loadSpec(t)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					ref, _ := x.(string)
					if !resolves(doc, ref) {
						t.Errorf("unresolved $ref %q", ref)
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

func resolves(doc map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// TestSchemasMatchGoTypes keeps the hand-written schemas and api/types.go
// in step: same property names, required exactly when the field has no
// omitempty, nullable exactly when a pointer is always sent.
func TestSchemasMatchGoTypes(t *testing.T) {
	types := map[string]any{
		"Sandbox": Sandbox{}, "Resources": Resources{}, "Network": Network{},
		"CreateSandboxRequest": CreateSandboxRequest{}, "ResourcesRequest": ResourcesRequest{},
		"NetworkRequest": NetworkRequest{}, "SandboxList": SandboxList{}, "Pagination": Pagination{},
		"Event": Event{}, "EventList": EventList{}, "RenewExpirationRequest": RenewExpirationRequest{},
		"SetTimeoutRequest": SetTimeoutRequest{}, "CreateOrganizationRequest": CreateOrganizationRequest{},
		"Organization": Organization{}, "CreateAPIKeyRequest": CreateAPIKeyRequest{}, "APIKey": APIKey{},
		"APIKeyList": APIKeyList{}, "Info": Info{}, "Capabilities": Capabilities{},
		"ErrorBody": ErrorBody{}, "ErrorDetail": ErrorDetail{}, "PortURLRequest": PortURLRequest{}, "PortURL": PortURL{}, "PortPublicRequest": PortPublicRequest{}, "Image": Image{}, "ImageList": ImageList{},
		"PullImageRequest": PullImageRequest{}, "ImageProgress": ImageProgress{},
		"ExecRequest": ExecRequest{}, "ExecResult": ExecResult{}, "OutputChunk": OutputChunk{},
		"Process": Process{}, "ProcessList": ProcessList{}, "SignalRequest": SignalRequest{},
		"StdinRequest": StdinRequest{}, "FileInfo": FileInfo{}, "FileList": FileList{},
		"MkdirRequest": MkdirRequest{}, "MoveRequest": MoveRequest{}, "ChmodRequest": ChmodRequest{},
		"CreateContextRequest": CreateContextRequest{}, "CodeContext": CodeContext{},
		"CodeContextList": CodeContextList{}, "RunCodeRequest": RunCodeRequest{}, "RunCodeResult": RunCodeResult{},
		"CodeError": CodeError{}, "PtyMessage": PtyMessage{},
		"QuotaLimits": QuotaLimits{}, "ResourceTotals": ResourceTotals{}, "OrganizationQuotas": OrganizationQuotas{},
		"Readiness": Readiness{}, "ReadinessCheck": ReadinessCheck{}, "SeedImage": SeedImage{},
		"WebhookDelivery": WebhookDelivery{}, "WebhookDeliveryList": WebhookDeliveryList{},
		"SandboxMetrics": SandboxMetrics{}, "RateLimit": RateLimit{}, "RateLimitPair": RateLimitPair{},
		"RateLimitSettings": RateLimitSettings{},
		"DrainStatus":       DrainStatus{}, "DrainLeft": DrainLeft{},
		"PauseInfo": PauseInfo{}, "PauseRequest": PauseRequest{}, "PoolInfo": PoolInfo{},
	}
	schemas := loadSchemas(t)
	for name, v := range types {
		t.Run(name, func(t *testing.T) {
			s := schemas[name]
			if s == nil {
				t.Fatalf("no schema %s", name)
			}
			var wantProps, wantRequired []string
			wantNullable := map[string]bool{}
			rt := reflect.TypeOf(v)
			for i := 0; i < rt.NumField(); i++ {
				f := rt.Field(i)
				tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
				wantProps = append(wantProps, tag)
				omit := strings.Contains(opts, "omitempty")
				if !omit {
					wantRequired = append(wantRequired, tag)
				}
				wantNullable[tag] = !omit && f.Type.Kind() == reflect.Pointer
			}
			var gotProps []string
			for p, ps := range s.Properties {
				gotProps = append(gotProps, p)
				if ps.Nullable != wantNullable[p] {
					t.Errorf("%s.%s nullable = %v, want %v", name, p, ps.Nullable, wantNullable[p])
				}
			}
			sort.Strings(wantProps)
			sort.Strings(gotProps)
			if !reflect.DeepEqual(gotProps, wantProps) {
				t.Errorf("properties = %v, want %v", gotProps, wantProps)
			}
			gotRequired := append([]string(nil), s.Required...)
			sort.Strings(gotRequired)
			sort.Strings(wantRequired)
			if len(gotRequired) == 0 {
				gotRequired = nil
			}
			if !reflect.DeepEqual(gotRequired, wantRequired) {
				t.Errorf("required = %v, want %v", gotRequired, wantRequired)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	routes, err := Routes()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Route]bool{}
	for _, r := range routes {
		if seen[r] {
			t.Errorf("duplicate route %s", r)
		}
		seen[r] = true
	}
	for _, want := range []Route{
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/v1/openapi.json"}, {"POST", "/v1/sandboxes/{id}/pause"},
		{"PATCH", "/v1/sandboxes/{id}/metadata"}, {"PUT", "/v1/sandboxes/{id}/timeout"},
		{"DELETE", "/v1/images"}, {"POST", "/v1/images/import"}, {"DELETE", "/v1/api-keys/{id}"},
	} {
		if !seen[want] {
			t.Errorf("missing route %s", want)
		}
	}
	if len(routes) != 74 {
		t.Errorf("got %d routes, want 74: %v", len(routes), routes)
	}
}

// TestOperationsDescribeErrors checks the promises every operation makes:
// a 500, a 401 unless it is public, and a 400 wherever a JSON body is read.
func TestOperationsDescribeErrors(t *testing.T) {
	j, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	type operation struct {
		Security    *[]any `json:"security"`
		RequestBody *struct {
			Content map[string]any `json:"content"`
		} `json:"requestBody"`
		Responses map[string]any `json:"responses"`
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			name := strings.ToUpper(method) + " " + path
			public := op.Security != nil && len(*op.Security) == 0
			if _, ok := op.Responses["401"]; !ok && !public {
				t.Errorf("%s: no 401", name)
			}
			if _, ok := op.Responses["500"]; !ok && path != "/healthz" && path != "/readyz" {
				t.Errorf("%s: no 500", name)
			}
			if op.RequestBody != nil && op.RequestBody.Content["application/json"] != nil {
				if _, ok := op.Responses["400"]; !ok {
					t.Errorf("%s: JSON body but no 400", name)
				}
			}
		}
	}
}
