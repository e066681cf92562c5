package admin

import (
	"crypto/tls"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// row returns the table row of a page whose attribute attr is id, or "".
func row(page, attr, id string) string {
	m := regexp.MustCompile(`(?s)<tr ` + attr + `="` + regexp.QuoteMeta(id) + `".*?</tr>`).FindString(page)
	return m
}

// cells returns the text of a row's cells, tags removed and entities decoded.
func cells(tr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(tr, -1) {
		out = append(out, strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], ""))))
	}
	return out
}

func TestConsolePagesRenderTheRegistry(t *testing.T) {
	s := newTestServer(t, DefaultConfig(), newFakeRegistry())
	s.SetReady(true)
	h := s.Handler()
	pages := map[string]string{}
	for _, p := range []string{"/", "/sessions", "/queries", "/queries?state=RUNNING", "/engines"} {
		rec := get(h, p)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: %d %s", p, rec.Code, rec.Header().Get("Content-Type"))
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", p, csp)
		}
		body := rec.Body.String()
		for _, want := range []string{`<link rel="stylesheet" href="/static/console.css">`, `<script src="/static/console.js" defer></script>`,
			`<span id="state" class="bridge-state ready"`, `<main id="live">`} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %s", p, want)
			}
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("GET %s refers to another site; the console must work offline", p)
		}
		pages[p] = body
	}

	// Overview: per protocol and in total, and the recent failures, escaped.
	ov := pages["/"]
	counts := regexp.MustCompile(`data-count="(\w+)">(\d+)<`).FindAllStringSubmatch(ov, -1)
	var got []string
	for _, c := range counts {
		got = append(got, c[1]+"="+c[2])
	}
	// HiveServer2: alice's session and running query on engine-a; Spark Connect: bob's
	// finished query on engine-b; in total, three engines.
	want := "sessions=1 running=1 live=1 engines=1 sessions=1 running=0 live=1 engines=1 sessions=2 running=1 live=2 engines=3"
	if strings.Join(got, " ") != want {
		t.Errorf("overview counts %s, want %s", strings.Join(got, " "), want)
	}
	if c := cells(row(ov, "data-op-id", "op-f")); len(c) != 5 || c[1] != "dave" || c[2] != "HiveServer2" || c[3] != "SELECT * FROM <missing>" ||
		!strings.HasPrefix(c[4], "[TABLE_OR_VIEW_NOT_FOUND]") {
		t.Errorf("overview's failure row: %q", c)
	}
	if strings.Contains(ov, "<missing>") {
		t.Error("the overview shows a statement unescaped")
	}
	if c := cells(row(ov, "data-op-id", "op-g")); len(c) != 5 || c[1] != "bob" || c[2] != "Spark Connect" || c[4] != "[DIVIDE_BY_ZERO] Division by zero." {
		t.Errorf("overview's second failure row: %q", c)
	}

	// Sessions: each with its close button.
	for _, c := range []struct{ id, user, protocol string }{{"s-alice", "alice", "HiveServer2"}, {"s-bob", "bob", "Spark Connect"}} {
		r := row(pages["/sessions"], "data-session-id", c.id)
		if cs := cells(r); len(cs) < 3 || cs[1] != c.user || cs[2] != c.protocol || !strings.Contains(r, `data-url="/api/v1/sessions/`+c.id+`"`) {
			t.Errorf("session row %s: %q", c.id, r)
		}
	}

	// Queries: the running one has a cancel button, the finished one none; the filter.
	r := row(pages["/queries"], "data-op-id", "op-a")
	if cs := cells(r); len(cs) < 3 || cs[0] != "RUNNING" || cs[1] != "alice" || cs[2] != "HiveServer2" ||
		!strings.Contains(r, `data-method="DELETE" data-url="/api/v1/operations/op-a"`) {
		t.Errorf("running query row: %q", r)
	}
	if r := row(pages["/queries"], "data-op-id", "op-b"); r == "" || strings.Contains(r, "<button") || !strings.Contains(r, "FINISHED") {
		t.Errorf("finished query row: %q", r)
	}
	if row(pages["/queries?state=RUNNING"], "data-op-id", "op-b") != "" || row(pages["/queries?state=RUNNING"], "data-op-id", "op-a") == "" {
		t.Error("/queries?state=RUNNING does not show just the running query")
	}

	// Engines: master, application, and a drain button for a ready engine only.
	eng := pages["/engines"]
	if r := row(eng, "data-engine-id", "engine-a"); !strings.Contains(r, "local[*]") || !strings.Contains(r, `data-url="/api/v1/engines/engine-a"`) {
		t.Errorf("engine-a row: %q", r)
	}
	if r := row(eng, "data-engine-id", "engine-b"); !strings.Contains(r, "app-1") || !strings.Contains(r, "spark://m:7077") || strings.Contains(r, "<button") ||
		!strings.Contains(r, "RUNNING on 10.0.0.9") {
		t.Errorf("engine-b row (draining): %q", r)
	}
	if r := row(eng, "data-engine-id", "engine-c"); !strings.Contains(r, "launching") || strings.Contains(r, "<button") {
		t.Errorf("engine-c row (launching): %q", r)
	}

	if rec := get(h, "/queries?state=SLEEPING"); rec.Code != http.StatusBadRequest {
		t.Errorf("a bad filter on the queries page: %d", rec.Code)
	}
}

func TestConsoleEmptyPages(t *testing.T) {
	h := newTestServer(t, DefaultConfig(), &fakeRegistry{}).Handler()
	for p, want := range map[string]string{"/": "No query has failed lately.", "/sessions": "No live sessions.", "/queries": "No live queries.",
		"/queries?state=RUNNING": "No running queries.", "/engines": "No engines"} {
		if rec := get(h, p); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d, want a page saying %q", p, rec.Code, want)
		}
	}
	if rec := get(h, "/"); !strings.Contains(rec.Body.String(), `class="bridge-state starting"`) {
		t.Error("the header does not say the bridge is starting")
	}
}

func TestConsoleAssetsAreEmbedded(t *testing.T) {
	h := newTestServer(t, DefaultConfig(), newFakeRegistry()).Handler()
	for p, ct := range map[string]string{"/static/console.css": "text/css", "/static/console.js": "text/javascript", "/static/favicon.svg": "image/svg+xml"} {
		rec := get(h, p)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), ct) || rec.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q", p, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	for _, p := range []string{"/static/layout.html", "/static/nope.css", "/static/"} {
		if rec := get(h, p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
}

// The console asks for an administrator's Basic credentials as the API does.
func TestConsoleNeedsAnAdministrator(t *testing.T) {
	cfg := Config{Addr: "10.0.0.1:10019", TLS: &tls.Config{}, Admins: []string{"alice"}, Auth: fileUsers(t)}
	h := newTestServer(t, cfg, newFakeRegistry()).Handler()
	for _, p := range []string{"/", "/queries", "/static/console.js"} {
		rec := get(h, p)
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s without credentials: %d %q", p, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if rec := get(h, p, func(r *http.Request) { r.SetBasicAuth("bob", "pw") }); rec.Code != http.StatusForbidden {
			t.Errorf("GET %s as bob: %d", p, rec.Code)
		}
		if rec := get(h, p, func(r *http.Request) { r.SetBasicAuth("alice", "pw") }); rec.Code != http.StatusOK {
			t.Errorf("GET %s as alice: %d", p, rec.Code)
		}
	}
}

// Every action button of the console calls the API, and the action reaches the registry
// when the console's own page sends it.
func TestConsoleButtonsCallTheAPI(t *testing.T) {
	reg := newFakeRegistry()
	h := newTestServer(t, DefaultConfig(), reg).Handler()
	button := regexp.MustCompile(`data-method="(\w+)" data-url="([^"]+)"`)
	var actions []string
	for _, p := range []string{"/sessions", "/queries", "/engines"} {
		for _, m := range button.FindAllStringSubmatch(get(h, p).Body.String(), -1) {
			actions = append(actions, m[1]+" "+m[2])
			code, body := call(t, h, m[1], m[2], browser("http://"+DefaultAddr, "same-origin"))
			if code/100 != 2 {
				t.Errorf("%s %s from the console: %d %v", m[1], m[2], code, body)
			}
		}
	}
	want := "DELETE /api/v1/sessions/s-alice|DELETE /api/v1/sessions/s-bob|DELETE /api/v1/operations/op-a|DELETE /api/v1/engines/engine-a"
	if strings.Join(actions, "|") != want {
		t.Fatalf("the console's buttons are %q, want %q", actions, want)
	}
	if strings.Join(reg.closed, ",") != "s-alice,s-bob" || strings.Join(reg.cancelled, ",") != "op-a" || len(reg.drained) != 1 {
		t.Fatalf("registry saw closed %v, cancelled %v, drained %v", reg.closed, reg.cancelled, reg.drained)
	}
}
