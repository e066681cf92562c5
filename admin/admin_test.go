package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/engine"
)

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return logrus.NewEntry(l)
}

func newTestServer(t *testing.T, cfg Config, reg Registry) *Server {
	t.Helper()
	s, err := New(cfg, reg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// localRequest is a request to a server on the default loopback address, from a local
// client that is not a browser.
func localRequest(method, target string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	req.Host = DefaultAddr
	req.RemoteAddr = "127.0.0.1:5555"
	return req
}

// call serves one request and decodes the JSON answer into a map.
func call(t *testing.T, h http.Handler, method, target string, setup ...func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req := localRequest(method, target)
	for _, f := range setup {
		f(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	if ct := rec.Header().Get("Content-Type"); ct == "application/json" {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, target, rec.Body.String(), err)
		}
	}
	return rec.Code, body
}

func ids(t *testing.T, body map[string]any, key string) []string {
	t.Helper()
	list, ok := body[key].([]any)
	if !ok {
		t.Fatalf("no %s list in %v", key, body)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.(map[string]any)["id"].(string))
	}
	return out
}

func TestListsAndFilters(t *testing.T) {
	h := newTestServer(t, DefaultConfig(), newFakeRegistry()).Handler()
	for _, c := range []struct {
		target, key string
		want        string
	}{
		{"/api/v1/sessions", "sessions", "s-alice,s-bob"},
		{"/api/v1/sessions?user=bob", "sessions", "s-bob"},
		{"/api/v1/sessions?protocol=thrift", "sessions", "s-alice"},
		{"/api/v1/sessions?state=running", "sessions", "s-alice"},
		{"/api/v1/operations", "operations", "op-a,op-b"},
		{"/api/v1/operations?protocol=connect", "operations", "op-b"},
		{"/api/v1/operations?state=FINISHED&user=bob", "operations", "op-b"},
		{"/api/v1/operations?user=nobody", "operations", ""},
		{"/api/v1/engines", "engines", "engine-a,engine-b,engine-c"},
		{"/api/v1/engines?state=launching", "engines", "engine-c"},
		{"/api/v1/engines?user=alice", "engines", "engine-a"},
		{"/api/v1/engines?protocol=connect", "engines", "engine-b"},
		{"/api/v1/failures", "failures", "op-f,op-g"},
		{"/api/v1/failures?user=bob", "failures", "op-g"},
		{"/api/v1/failures?protocol=thrift", "failures", "op-f"},
	} {
		code, body := call(t, h, http.MethodGet, c.target)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %v", c.target, code, body)
		}
		if got := strings.Join(ids(t, body, c.key), ","); got != c.want {
			t.Errorf("%s: %s, want %s", c.target, got, c.want)
		}
	}
	// An operation shows everything the registry knows, its statement cut at 1000 bytes.
	_, body := call(t, h, http.MethodGet, "/api/v1/operations?user=alice")
	op := body["operations"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{"user": "alice", "protocol": "thrift", "session_id": "s-alice", "engine_id": "engine-a", "kind": "statement",
		"state": "RUNNING", "rows_sent": 10.0, "bytes_sent": 100.0, "statement_truncated": true} {
		if op[k] != want {
			t.Errorf("operation %s = %v, want %v", k, op[k], want)
		}
	}
	if n := len(op["statement"].(string)); n != MaxStatement {
		t.Errorf("statement of %d bytes shown, want %d", n, MaxStatement)
	}
	_, body = call(t, h, http.MethodGet, "/api/v1/engines?user=bob")
	if e := body["engines"].([]any)[0].(map[string]any); e["app_id"] != "app-1" || e["master"] != "spark://m:7077" || e["state"] != "draining" {
		t.Errorf("cluster engine = %v", e)
	}
}

func TestBadRequestsAndUnknownIDs(t *testing.T) {
	reg := newFakeRegistry()
	h := newTestServer(t, DefaultConfig(), reg).Handler()
	for _, c := range []struct {
		method, target string
		code           int
	}{
		{http.MethodGet, "/api/v1/sessions?protocol=odbc", http.StatusBadRequest},
		{http.MethodGet, "/api/v1/operations?state=SLEEPING", http.StatusBadRequest},
		{http.MethodGet, "/api/v1/engines?colour=red", http.StatusBadRequest},
		{http.MethodGet, "/api/v1/failures?state=ERROR", http.StatusBadRequest},
		{http.MethodDelete, "/api/v1/engines/engine-a?grace=soon", http.StatusBadRequest},
		{http.MethodDelete, "/api/v1/sessions/nope", http.StatusNotFound},
		{http.MethodDelete, "/api/v1/operations/nope", http.StatusNotFound},
		{http.MethodDelete, "/api/v1/engines/nope", http.StatusNotFound},
		{http.MethodGet, "/api/v1/nothing", http.StatusNotFound},
		{http.MethodPost, "/api/v1/sessions", http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/v1/drain", http.StatusMethodNotAllowed},
	} {
		code, body := call(t, h, c.method, c.target)
		if code != c.code || body["error"] == nil || body["error"] == "" {
			t.Errorf("%s %s: %d %v, want %d with an error", c.method, c.target, code, body, c.code)
		}
	}
}

type recordedAudit struct {
	mu      sync.Mutex
	actions []string
}

func (a *recordedAudit) Admin(actor, action, target string, err error) {
	outcome := "ok"
	switch {
	case engine.KindOf(err) == engine.KindNotFound:
		outcome = "not_found"
	case err != nil:
		outcome = "error"
	}
	a.mu.Lock()
	a.actions = append(a.actions, strings.Join([]string{actor, action, target, outcome}, " "))
	a.mu.Unlock()
}

func TestActionsReachTheRegistryAndTheAudit(t *testing.T) {
	reg := newFakeRegistry()
	audit := &recordedAudit{}
	cfg := DefaultConfig()
	cfg.Audit = audit
	h := newTestServer(t, cfg, reg).Handler()
	if code, body := call(t, h, http.MethodDelete, "/api/v1/sessions/s-bob"); code != http.StatusOK || body["closed"] != true {
		t.Fatalf("close: %d %v", code, body)
	}
	code, body := call(t, h, http.MethodDelete, "/api/v1/operations/op-a")
	if code != http.StatusOK || body["operation"].(map[string]any)["state"] != "CANCELED" {
		t.Fatalf("cancel: %d %v", code, body)
	}
	if code, body := call(t, h, http.MethodDelete, "/api/v1/engines/engine-a?grace=0s"); code != http.StatusAccepted || body["grace_seconds"] != 0.0 {
		t.Fatalf("drain engine: %d %v", code, body)
	}
	call(t, h, http.MethodDelete, "/api/v1/engines/engine-b")
	call(t, h, http.MethodDelete, "/api/v1/sessions/nope")
	if len(reg.closed) != 1 || reg.closed[0] != "s-bob" || len(reg.cancelled) != 1 || reg.cancelled[0] != "op-a" ||
		reg.drained["engine-a"] != 0 || reg.drained["engine-b"] != cfg.EngineDrainGrace {
		t.Fatalf("registry saw closed %v, cancelled %v, drained %v", reg.closed, reg.cancelled, reg.drained)
	}
	want := []string{" close_session s-bob ok", " cancel_operation op-a ok", " drain_engine engine-a ok", " drain_engine engine-b ok", " close_session nope not_found"}
	if strings.Join(audit.actions, "|") != strings.Join(want, "|") {
		t.Fatalf("audit = %q, want %q", audit.actions, want)
	}
}

func TestReadinessAndDrain(t *testing.T) {
	reg := newFakeRegistry()
	s := newTestServer(t, DefaultConfig(), reg)
	h := s.Handler()
	if code, body := call(t, h, http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable || body["status"] != "starting" {
		t.Fatalf("readyz before SetReady: %d %v", code, body)
	}
	s.SetReady(true)
	if code, _ := call(t, h, http.MethodGet, "/readyz"); code != http.StatusOK {
		t.Fatalf("readyz when ready: %d", code)
	}
	if code, body := call(t, h, http.MethodPost, "/api/v1/drain"); code != http.StatusAccepted || body["draining"] != true || !reg.Draining() {
		t.Fatalf("drain: %d %v", code, body)
	}
	if code, body := call(t, h, http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable || body["status"] != "draining" {
		t.Fatalf("readyz while draining: %d %v", code, body)
	}
	if code, _ := call(t, h, http.MethodGet, "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz while draining: %d", code)
	}
}

func TestMetricsAndPprofAreMounted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("sparkbridge_up 1\n")) })
	h := newTestServer(t, cfg, newFakeRegistry()).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, "/metrics"))
	if rec.Code != http.StatusOK || rec.Body.String() != "sparkbridge_up 1\n" {
		t.Fatalf("/metrics: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, "/debug/pprof/"))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("/debug/pprof/: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, "/debug/pprof/goroutine?debug=1"))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "goroutine profile") {
		t.Fatalf("/debug/pprof/goroutine: %d", rec.Code)
	}
	// Without a metrics handler, /metrics is not served.
	h = newTestServer(t, DefaultConfig(), newFakeRegistry()).Handler()
	if code, _ := call(t, h, http.MethodGet, "/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics without a handler: %d", code)
	}
}

// fileUsers is a FILE auth provider with alice (an administrator) and bob, both with password
// "pw".
func fileUsers(t *testing.T) auth.Provider {
	t.Helper()
	hash, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	body := `{"users": [{"name": "alice", "password": "` + hash + `"}, {"name": "bob", "password": "` + hash + `"}]}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRefusesToStartOffLoopbackWithoutTLSAdminsOrAuth(t *testing.T) {
	users := fileUsers(t)
	tlsCfg := &tls.Config{}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no TLS", Config{Addr: "0.0.0.0:10019", Admins: []string{"alice"}, Auth: users}, "needs TLS"},
		{"every interface, no TLS", Config{Addr: ":10019", Admins: []string{"alice"}, Auth: users}, "needs TLS"},
		{"no admins", Config{Addr: "10.0.0.1:10019", TLS: tlsCfg, Auth: users}, "admins list"},
		{"auth NONE", Config{Addr: "10.0.0.1:10019", TLS: tlsCfg, Admins: []string{"alice"}, Auth: auth.None{}}, "checks passwords"},
	} {
		if _, err := New(c.cfg, newFakeRegistry(), quietLog()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v, want an error saying %q", c.name, err, c.want)
		}
	}
	for _, addr := range []string{"127.0.0.1:10019", "[::1]:10019", "localhost:0"} {
		if _, err := New(Config{Addr: addr}, newFakeRegistry(), quietLog()); err != nil {
			t.Errorf("open loopback %s refused: %v", addr, err)
		}
	}
	if _, err := New(Config{Addr: "10.0.0.1:10019", TLS: tlsCfg, Admins: []string{"alice"}, Auth: users}, newFakeRegistry(), quietLog()); err != nil {
		t.Errorf("a secured non-loopback server was refused: %v", err)
	}
}

func TestAdminsListIsEnforced(t *testing.T) {
	users := fileUsers(t)
	// Off loopback (the rules checked by New hold: TLS set; the handler is served in-process).
	cfg := Config{Addr: "10.0.0.1:10019", TLS: &tls.Config{}, Admins: []string{"alice"}, Auth: users}
	audit := &recordedAudit{}
	cfg.Audit = audit
	reg := newFakeRegistry()
	h := newTestServer(t, cfg, reg).Handler()
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }

	if code, body := call(t, h, http.MethodGet, "/api/v1/sessions"); code != http.StatusUnauthorized || body["error"] == nil {
		t.Fatalf("no credentials: %d %v", code, body)
	}
	if code, _ := call(t, h, http.MethodGet, "/api/v1/sessions", basic("alice", "wrong")); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", code)
	}
	if code, body := call(t, h, http.MethodDelete, "/api/v1/sessions/s-alice", basic("bob", "pw")); code != http.StatusForbidden ||
		!strings.Contains(body["error"].(string), "not an administrator") {
		t.Fatalf("a user who is not an administrator: %d %v", code, body)
	}
	if len(reg.closed) != 0 {
		t.Fatal("a refused request reached the registry")
	}
	if code, _ := call(t, h, http.MethodGet, "/debug/pprof/", basic("bob", "pw")); code != http.StatusForbidden {
		t.Fatalf("pprof for a user who is not an administrator: %d", code)
	}
	if code, _ := call(t, h, http.MethodDelete, "/api/v1/sessions/s-alice", basic("alice", "pw")); code != http.StatusOK {
		t.Fatalf("administrator: %d", code)
	}
	if len(audit.actions) != 1 || audit.actions[0] != "alice close_session s-alice ok" {
		t.Fatalf("audit = %q", audit.actions)
	}
	// Probes need no credentials.
	if code, _ := call(t, h, http.MethodGet, "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	if code, _ := call(t, h, http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz: %d", code)
	}
}

// On loopback, an admins list turns authentication on; without one the server is open.
func TestLoopbackIsOpenOnlyWithoutAdmins(t *testing.T) {
	users := fileUsers(t)
	open := newTestServer(t, Config{Addr: "127.0.0.1:0", Auth: users}, newFakeRegistry()).Handler()
	if code, _ := call(t, open, http.MethodGet, "/api/v1/sessions"); code != http.StatusOK {
		t.Fatalf("open loopback: %d", code)
	}
	closed := newTestServer(t, Config{Addr: "127.0.0.1:0", Auth: users, Admins: []string{"alice"}}, newFakeRegistry()).Handler()
	if code, _ := call(t, closed, http.MethodGet, "/api/v1/sessions"); code != http.StatusUnauthorized {
		t.Fatalf("loopback with admins, no credentials: %d", code)
	}
}

// An admins list needs passwords checked even on loopback: with an auth provider that
// trusts every name, anyone could claim an admin's.
func TestAdminsNeedPasswordsChecked(t *testing.T) {
	for _, a := range []auth.Provider{nil, auth.None{}} {
		if _, err := New(Config{Addr: "127.0.0.1:0", Auth: a, Admins: []string{"alice"}}, newFakeRegistry(), nil); err == nil ||
			!strings.Contains(err.Error(), "checks passwords") {
			t.Errorf("loopback, admins, auth %T: %v", a, err)
		}
	}
}

func TestServeAndShutdown(t *testing.T) {
	s := newTestServer(t, Config{Addr: "127.0.0.1:0"}, newFakeRegistry())
	srv := httptest.NewUnstartedServer(nil)
	ln := srv.Listener
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}
