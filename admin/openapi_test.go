package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// loadOpenAPI parses the embedded openapi.yaml.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi.yaml is not OpenAPI 3: %v", doc["openapi"])
	}
	return doc
}

var wildcard = regexp.MustCompile(`\{(\w+)\.\.\.\}`)

// openAPIPath is a mux pattern as OpenAPI writes it: {name...} is {name}.
func openAPIPath(pattern string) string { return wildcard.ReplaceAllString(pattern, "{$1}") }

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// The file and the mux describe the same routes with the same methods.
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	cfg := DefaultConfig()
	cfg.Metrics = http.NotFoundHandler() // so that /metrics is served
	s := newTestServer(t, cfg, newFakeRegistry())
	served := map[string]bool{}
	for _, r := range s.routeTable() {
		p := openAPIPath(r.pattern)
		served[p] = true
		item, ok := paths[p].(map[string]any)
		if !ok {
			t.Errorf("route %s is served but not in openapi.yaml", p)
			continue
		}
		var documented, serving []string
		for k := range item {
			if slices.Contains(httpMethods, k) {
				documented = append(documented, strings.ToUpper(k))
			}
		}
		for m := range r.methods {
			serving = append(serving, m)
		}
		sort.Strings(documented)
		sort.Strings(serving)
		if strings.Join(documented, ",") != strings.Join(serving, ",") {
			t.Errorf("%s: openapi.yaml has %v, the mux serves %v", p, documented, serving)
		}
		// A public route says so (security: []); every other one asks for credentials
		// when admins are configured, and documents the 401 and 403 it then answers.
		for m := range r.methods {
			op, _ := item[strings.ToLower(m)].(map[string]any)
			sec, hasSec := op["security"].([]any)
			public := hasSec && len(sec) == 0
			if public != r.public {
				t.Errorf("%s %s: openapi.yaml says public=%v, the server %v", m, p, public, r.public)
			}
			if !r.public {
				responses, _ := op["responses"].(map[string]any)
				for _, code := range []string{"401", "403"} {
					if _, ok := responses[code]; !ok {
						t.Errorf("%s %s: openapi.yaml does not document the %s it answers without an admin's credentials", m, p, code)
					}
				}
			}
		}
	}
	for p := range paths {
		if !served[p] {
			t.Errorf("openapi.yaml describes %s, which is not served", p)
		}
	}
}

// Every GET answer validates against its documented schema: required properties present,
// types right, enums respected, recursively.
func TestGetResponsesMatchTheirSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	reg := newFakeRegistry()
	s := newTestServer(t, DefaultConfig(), reg)
	s.SetReady(true)
	for _, target := range []string{"/healthz", "/readyz", "/api/v1/sessions", "/api/v1/operations", "/api/v1/engines",
		"/api/v1/sessions?state=RUNNING", "/api/v1/engines?state=launching", "/api/v1/failures"} {
		path, _, _ := strings.Cut(target, "?")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, localRequest(http.MethodGet, target))
		resp := paths[path].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)
		checkAnswer(t, doc, "GET "+target, resp, rec)
	}
	// Errors and the actions' answers too.
	for _, c := range []struct{ method, target string }{
		{http.MethodGet, "/api/v1/operations?state=nope"},
		{http.MethodDelete, "/api/v1/sessions/s-alice"},
		{http.MethodDelete, "/api/v1/operations/op-a"},
		{http.MethodDelete, "/api/v1/engines/engine-a"},
		{http.MethodDelete, "/api/v1/engines/nope"},
		{http.MethodPost, "/api/v1/drain"},
	} {
		path, _, _ := strings.Cut(c.target, "?")
		tmpl := path
		for _, p := range []string{"/api/v1/sessions/", "/api/v1/operations/", "/api/v1/engines/"} {
			if strings.HasPrefix(path, p) {
				tmpl = p + "{id}"
			}
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, localRequest(c.method, c.target))
		resp := paths[tmpl].(map[string]any)[strings.ToLower(c.method)].(map[string]any)["responses"].(map[string]any)
		checkAnswer(t, doc, c.method+" "+c.target, resp, rec)
	}
	// /readyz's 503 is documented as well.
	reg.Drain()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, localRequest(http.MethodGet, "/readyz"))
	checkAnswer(t, doc, "GET /readyz draining", paths["/readyz"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any), rec)
}

// checkAnswer validates a recorded answer against the documented response of its status.
func checkAnswer(t *testing.T, doc map[string]any, what string, responses map[string]any, rec *httptest.ResponseRecorder) {
	t.Helper()
	r, ok := responses[fmt.Sprint(rec.Code)].(map[string]any)
	if !ok {
		t.Errorf("%s: status %d is not documented", what, rec.Code)
		return
	}
	r = resolve(doc, r)
	schema, ok := dig(r, "content", "application/json", "schema").(map[string]any)
	if !ok {
		t.Errorf("%s: response %d has no JSON schema", what, rec.Code)
		return
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Errorf("%s: answer is not JSON: %v", what, err)
		return
	}
	for _, e := range validate(doc, schema, v, "$") {
		t.Errorf("%s: %s", what, e)
	}
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// resolve follows a local $ref ("#/components/...").
func resolve(doc map[string]any, m map[string]any) map[string]any {
	for {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		keys := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		next, ok := dig(doc, keys...).(map[string]any)
		if !ok {
			panic("unresolvable $ref " + ref)
		}
		m = next
	}
}

// validate checks v against the subset of JSON Schema the file uses: type, required,
// properties, items, enum.
func validate(doc map[string]any, schema map[string]any, v any, at string) []string {
	schema = resolve(doc, schema)
	var errs []string
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want an object, got %T", at, v))
		}
		req, _ := schema["required"].([]any)
		for _, k := range req {
			if _, ok := obj[k.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %s missing", at, k))
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, pv := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: property %s is not documented", at, k))
				continue
			}
			errs = append(errs, validate(doc, ps, pv, at+"."+k)...)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want an array, got %T", at, v))
		}
		items, _ := schema["items"].(map[string]any)
		for i, e := range arr {
			errs = append(errs, validate(doc, items, e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s: want a string, got %T", at, v))
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			errs = append(errs, fmt.Sprintf("%s: want an integer, got %v", at, v))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			errs = append(errs, fmt.Sprintf("%s: want a number, got %T", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: want a boolean, got %T", at, v))
		}
	}
	return errs
}

// The checker itself catches a missing required property and a wrong type.
func TestSchemaCheckerCatchesMistakes(t *testing.T) {
	doc := loadOpenAPI(t)
	schema := dig(doc, "components", "schemas", "Engine").(map[string]any)
	bad := map[string]any{"id": "e", "key": "k", "user": "u", "share_level": "USER", "state": "asleep", "sessions": "one", "started": "t"}
	errs := strings.Join(validate(doc, schema, bad, "$"), "\n")
	for _, want := range []string{"idle_seconds missing", "asleep is not one of", "$.sessions: want an integer"} {
		if !strings.Contains(errs, want) {
			t.Errorf("checker missed %q; it said:\n%s", want, errs)
		}
	}
}

// The file is served at /api/v1/openapi.yaml.
func TestOpenAPIIsServed(t *testing.T) {
	s := newTestServer(t, DefaultConfig(), newFakeRegistry())
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, localRequest(http.MethodGet, "/api/v1/openapi.yaml"))
	if rec.Code != http.StatusOK || rec.Body.String() != string(openAPI) {
		t.Fatalf("/api/v1/openapi.yaml: %d", rec.Code)
	}
}

// What routeTable calls public is what the server does: with admins configured, every other
// route and method answers 401 without credentials, and a public one never does.
func TestRoutesAskForCredentialsUnlessPublic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr, cfg.Auth, cfg.Admins = "127.0.0.1:0", fileUsers(t), []string{"alice"}
	cfg.Metrics = http.NotFoundHandler()
	s := newTestServer(t, cfg, newFakeRegistry())
	for _, r := range s.routeTable() {
		target := strings.NewReplacer("{id}", "x", "{profile...}", "heap", "{profile}", "heap").Replace(r.pattern)
		for m := range r.methods {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, localRequest(m, target))
			if got := rec.Code == http.StatusUnauthorized; got == r.public {
				t.Errorf("%s %s without credentials: %d (public %v)", m, target, rec.Code, r.public)
			}
		}
	}
}
