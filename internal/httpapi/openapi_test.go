package httpapi

import (
	"dirsync/internal/apply"
	"dirsync/internal/review"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"dirsync/internal/preview"
	"dirsync/internal/store"
)

// notYetServed are the routes of the spec that no handler serves yet.
var notYetServed = []string{}

// apiSpec is docs/openapi.yaml, with what the tests need to check
// responses against it.
type apiSpec struct {
	doc map[string]any
	// paths finds the spec path template of a request path.
	paths *http.ServeMux
}

var (
	specOnce   sync.Once
	specLoaded *apiSpec
	specErr    error
)

func loadSpec(t testing.TB) *apiSpec {
	t.Helper()
	specOnce.Do(func() { specLoaded, specErr = readSpec(filepath.Join("..", "..", "docs", "openapi.yaml")) })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return specLoaded
}

func readSpec(file string) (*apiSpec, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		return nil, fmt.Errorf("%s: openapi version %q, want 3.x", file, v)
	}
	s := &apiSpec{doc: doc, paths: http.NewServeMux()}
	for p := range s.pathItems() {
		s.paths.Handle(p, http.NotFoundHandler())
	}
	return s, nil
}

func (s *apiSpec) pathItems() map[string]any {
	m, _ := s.doc["paths"].(map[string]any)
	return m
}

var specMethods = []string{"get", "put", "post", "patch", "delete"}

// routes lists the spec's operations as "METHOD /path".
func (s *apiSpec) routes() []string {
	var out []string
	for p, item := range s.pathItems() {
		ops, _ := item.(map[string]any)
		for _, m := range specMethods {
			if _, ok := ops[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// lookup follows a local $ref ("#/components/schemas/X").
func (s *apiSpec) lookup(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	var cur any = s.doc
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not an object", ref, part)
		}
		cur = m[part]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q does not resolve", ref)
	}
	return m, nil
}

func (s *apiSpec) deref(m map[string]any) (map[string]any, error) {
	for range 10 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if m, err = s.lookup(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// checkResponse checks a response to a request of path (escaped) against
// the spec: its status must be
// documented for the operation and its body must match the schema. A path
// or method the spec does not know must be answered 404 or 405 in the
// error shape.
func (s *apiSpec) checkResponse(method, path string, status int, body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	errorSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	u, err := url.Parse(path)
	if err != nil {
		return err
	}
	_, tmpl := s.paths.Handler(&http.Request{Method: http.MethodGet, URL: u})
	item, _ := s.pathItems()[tmpl].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	if op == nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return fmt.Errorf("%s %s is not in the spec but answered %d", method, path, status)
		}
		return s.validate(errorSchema, v, "")
	}
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		if status == http.StatusMethodNotAllowed {
			return s.validate(errorSchema, v, "")
		}
		return fmt.Errorf("status %d is not documented for %s %s", status, strings.ToUpper(method), tmpl)
	}
	resp, err = s.deref(resp)
	if err != nil {
		return err
	}
	content, _ := resp["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	schema, _ := media["schema"].(map[string]any)
	if schema == nil {
		return fmt.Errorf("no JSON schema for %d of %s %s", status, method, tmpl)
	}
	return s.validate(schema, v, "")
}

// validate checks v against the subset of JSON Schema the spec uses:
// $ref, allOf, nullable, type, enum, pattern, required, properties,
// additionalProperties and items.
func (s *apiSpec) validate(schema map[string]any, v any, at string) error {
	schema, err := s.deref(schema)
	if err != nil {
		return err
	}
	where := at
	if where == "" {
		where = "body"
	}
	if v == nil {
		if n, _ := schema["nullable"].(bool); n {
			return nil
		}
		return fmt.Errorf("%s: null where the spec does not allow it", where)
	}
	if all, ok := schema["allOf"].([]any); ok {
		for _, sub := range all {
			if err := s.validate(sub.(map[string]any), v, at); err != nil {
				return err
			}
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", where, v, enum)
	}
	typ, _ := schema["type"].(string)
	if typ == "" && schema["properties"] != nil {
		typ = "object"
	}
	switch typ {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", where, v)
		}
		required, _ := schema["required"].([]any)
		for _, r := range required {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required key %q is missing", where, r)
			}
		}
		props, _ := schema["properties"].(map[string]any)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := joinPath(at, k)
			if p, ok := props[k].(map[string]any); ok {
				if err := s.validate(p, obj[k], sub); err != nil {
					return err
				}
				continue
			}
			switch extra := schema["additionalProperties"].(type) {
			case bool:
				if !extra {
					return fmt.Errorf("%s: key not in the spec", sub)
				}
			case map[string]any:
				if err := s.validate(extra, obj[k], sub); err != nil {
					return err
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", where, v)
		}
		items, _ := schema["items"].(map[string]any)
		for i, it := range arr {
			if err := s.validate(items, it, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", where, v)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", where, str, p)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: want an integer, got %v", where, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: want a number, got %T", where, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", where, v)
		}
	}
	return nil
}

// allDepsHandler serves every route; its dependencies are never called.
func allDepsHandler(t *testing.T) *Handler {
	st := store.New(nil, "", "")
	return mustNew(t, Deps{
		Directory: st, Syncs: st, Connections: st,
		Secrets: &fakeSecrets{}, Previews: &preview.Service{}, Tester: fakeTester{}, EntraGroups: newFakeEntraGroups(), Applies: &apply.Service{}, Reviews: &review.Service{},
	}, Options{}, Functions...)
}

func TestSpecMatchesRoutes(t *testing.T) {
	spec := loadSpec(t)
	served := allDepsHandler(t).Routes()
	inSpec := spec.routes()
	for _, r := range served {
		if !slices.Contains(inSpec, r) {
			t.Errorf("route %s is served but not in docs/openapi.yaml", r)
		}
	}
	for _, r := range inSpec {
		if !slices.Contains(served, r) && !slices.Contains(notYetServed, r) {
			t.Errorf("route %s is in docs/openapi.yaml but neither served nor listed as not yet served", r)
		}
	}
	for _, r := range notYetServed {
		if slices.Contains(served, r) {
			t.Errorf("route %s is served now: take it off notYetServed", r)
		}
		if !slices.Contains(inSpec, r) {
			t.Errorf("not-yet-served route %s is missing from docs/openapi.yaml", r)
		}
	}
}

func TestSpecErrorCodes(t *testing.T) {
	spec := loadSpec(t)
	codeSchema, err := spec.lookup("#/components/schemas/Error/properties/error/properties/code")
	if err != nil {
		t.Fatal(err)
	}
	var inSpec []string
	for _, c := range codeSchema["enum"].([]any) {
		inSpec = append(inSpec, c.(string))
	}
	mine := ErrorCodes()
	slices.Sort(inSpec)
	slices.Sort(mine)
	if !slices.Equal(inSpec, mine) {
		t.Fatalf("error codes in the spec %v, served %v", inSpec, mine)
	}
	desc, _ := codeSchema["description"].(string)
	for code, status := range statusByCode {
		if !strings.Contains(desc, fmt.Sprintf("%s %d", code, status)) {
			t.Errorf("the spec does not say %s is %d", code, status)
		}
	}
}

// TestSpecValidatorRejects makes sure the response check can fail.
func TestSpecValidatorRejects(t *testing.T) {
	spec := loadSpec(t)
	tests := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"undocumented status", "GET", "/v1/users", 418, `{"error":{"code":"internal","message":"x"}}`},
		{"missing key", "GET", "/v1/groups", 200, `{"items":[{"id":"g1"}]}`},
		{"extra key", "GET", "/v1/groups", 200, `{"items":[],"nextCursor":"x","total":3}`},
		{"null where not nullable", "GET", "/v1/syncs/abc/progress", 200,
			`{"status":"APPLYING","total":null,"processed":0,"succeeded":0,"failed":0,"conflicts":0,"percent":0,"startedAt":null,"updatedAt":null,"finishedAt":null}`},
		{"bad enum", "GET", "/v1/syncs/abc/progress", 200,
			`{"status":"RUNNING","total":1,"processed":0,"succeeded":0,"failed":0,"conflicts":0,"percent":0,"startedAt":null,"updatedAt":null,"finishedAt":null}`},
		{"error code not in the list", "GET", "/v1/users", 400, `{"error":{"code":"oops","message":"x"}}`},
		{"unknown path answered 200", "GET", "/v2/users", 200, `{}`},
		{"user attribute that is not a string", "GET", "/v1/users/u1", 200,
			`{"id":"u1","email":"a@b.c","displayName":null,"status":"active","source":"manual","externalId":null,"protected":false,"groups":[],"revision":1,"createdAt":null,"updatedAt":null,"jobTitle":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := spec.checkResponse(tt.method, tt.path, tt.status, []byte(tt.body)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
