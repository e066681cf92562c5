package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// get serves one request to h and returns the recorded answer.
func get(h http.Handler, target string, setup ...func(*http.Request)) *httptest.ResponseRecorder {
	req := localRequest(http.MethodGet, target)
	for _, f := range setup {
		f(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// browser makes a request look as a browser sends it: from a page of origin, with the
// Sec-Fetch-Site it computes (a browser too old for it sends only Origin).
func browser(origin, site string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("Origin", origin)
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
	}
}

// A page of another site cannot make an administrator's browser cancel, close or drain:
// requests that a browser marks as cross-origin are refused before they reach the registry.
func TestCrossOriginActionsAreRefused(t *testing.T) {
	reg := newFakeRegistry()
	h := newTestServer(t, DefaultConfig(), reg).Handler()
	for _, c := range []struct {
		name  string
		setup func(*http.Request)
	}{
		{"cross-site", browser("https://evil.example", "cross-site")},
		{"same-site, other port", browser("http://127.0.0.1:8080", "same-site")},
		{"Origin only, another host", browser("https://evil.example", "")},
		{"Origin only, another port", browser("http://127.0.0.1:8080", "")},
	} {
		for _, a := range []struct{ method, target string }{
			{http.MethodDelete, "/api/v1/operations/op-a"},
			{http.MethodDelete, "/api/v1/sessions/s-alice"},
			{http.MethodDelete, "/api/v1/engines/engine-a"},
			{http.MethodPost, "/api/v1/drain"},
		} {
			code, body := call(t, h, a.method, a.target, c.setup)
			if code != http.StatusForbidden || !strings.Contains(body["error"].(string), "cross-origin") {
				t.Errorf("%s: %s %s: %d %v, want 403", c.name, a.method, a.target, code, body)
			}
		}
	}
	if len(reg.closed)+len(reg.cancelled)+len(reg.drained) != 0 || reg.Draining() {
		t.Fatalf("a cross-origin request reached the registry: closed %v, cancelled %v, drained %v, draining %v",
			reg.closed, reg.cancelled, reg.drained, reg.Draining())
	}
	// The console's own page (same origin, or an older browser's matching Origin) and
	// clients that are not browsers act.
	for _, c := range []struct {
		name  string
		setup func(*http.Request)
	}{
		{"same-origin", browser("http://"+DefaultAddr, "same-origin")},
		{"Origin only, this host", browser("http://"+DefaultAddr, "")},
		{"curl", func(*http.Request) {}},
	} {
		if code, body := call(t, h, http.MethodDelete, "/api/v1/operations/op-a", c.setup); code != http.StatusOK {
			t.Errorf("%s: DELETE operation: %d %v", c.name, code, body)
		}
	}
	if len(reg.cancelled) != 3 {
		t.Fatalf("cancelled %v, want op-a three times", reg.cancelled)
	}
	// Reading is not an action: a cross-site GET is served (the browser keeps its answer
	// from the other page).
	if code, _ := call(t, h, http.MethodGet, "/api/v1/operations", browser("https://evil.example", "cross-site")); code != http.StatusOK {
		t.Errorf("a cross-site GET: %d", code)
	}
}

// An open loopback server answers only requests addressed to a loopback host: a web site
// whose name resolves to 127.0.0.1 (DNS rebinding) is the browser's same origin, and is
// refused.
func TestOpenServerRefusesOtherHostNames(t *testing.T) {
	reg := newFakeRegistry()
	h := newTestServer(t, DefaultConfig(), reg).Handler()
	rebound := func(r *http.Request) { r.Host = "evil.example:10019" }
	for _, p := range []string{"/api/v1/sessions", "/api/v1/operations", "/debug/pprof/"} {
		if rec := get(h, p, rebound); rec.Code != http.StatusForbidden {
			t.Errorf("GET %s with Host evil.example: %d", p, rec.Code)
		}
	}
	if code, _ := call(t, h, http.MethodDelete, "/api/v1/operations/op-a", rebound, browser("http://evil.example:10019", "same-origin")); code != http.StatusForbidden || len(reg.cancelled) != 0 {
		t.Errorf("a rebound same-origin DELETE: %d, cancelled %v", code, reg.cancelled)
	}
	for _, host := range []string{"localhost:10019", "127.0.0.1:10019", "[::1]:10019"} {
		if rec := get(h, "/api/v1/sessions", func(r *http.Request) { r.Host = host }); rec.Code != http.StatusOK {
			t.Errorf("GET /api/v1/sessions with Host %s: %d", host, rec.Code)
		}
	}
	if rec := get(h, "/healthz", rebound); rec.Code != http.StatusOK {
		t.Errorf("/healthz with another Host: %d (probes need no checks)", rec.Code)
	}
}
