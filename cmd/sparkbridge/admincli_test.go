package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeAdminAPI answers as the admin API does, and records each request as
// "METHOD path?query user:password".
type fakeAdminAPI struct {
	mu   sync.Mutex
	seen []string
}

func (f *fakeAdminAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, p, _ := r.BasicAuth()
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.RequestURI()+" "+u+":"+p)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/operations":
		_, _ = w.Write([]byte(`{"operations": [{"id": "op-1", "session_id": "s-1", "user": "alice", "protocol": "thrift", "engine_id": "engine-1",
			"kind": "statement", "state": "RUNNING", "statement": "SELECT   count(*)\n FROM range(0, 100000000000) WHERE id % 7 = 3 AND id % 11 = 5 AND something_long",
			"statement_truncated": false, "started": "2026-11-30T12:00:00Z", "last_used": "2026-11-30T12:00:00Z", "rows_sent": 0, "bytes_sent": 0}]}`))
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/engines":
		_, _ = w.Write([]byte(`{"engines": [{"id": "engine-1", "key": "user/alice", "user": "alice", "share_level": "USER", "state": "ready",
			"master": "local[*]", "address": "127.0.0.1:4000", "pid": 42, "sessions": 2, "started": "2026-11-30T12:00:00Z", "idle_seconds": 0}]}`))
	case r.Method == http.MethodDelete && r.URL.Path == "/api/v1/operations/op-1":
		_, _ = w.Write([]byte(`{"operation": {"id": "op-1", "state": "CANCELED"}}`))
	case r.Method == http.MethodDelete && r.URL.Path == "/api/v1/engines/engine-1":
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"engine": {"id": "engine-1", "state": "draining", "sessions": 2}, "grace_seconds": 0}`))
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/drain":
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"draining": true}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error": "no live operation nope"}`))
	}
}

func TestAdminCLI(t *testing.T) {
	api := &fakeAdminAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv(adminPasswordEnv, "s3cret")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := adminTool(append(args, "-admin-addr", srv.URL, "-user", "root"), &out)
		return out.String(), err
	}

	out, err := run("queries", "-filter-user", "alice", "-state", "RUNNING")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "op-1") || !strings.Contains(lines[1], "thrift") ||
		!strings.Contains(lines[1], "SELECT count(*) FROM range") || !strings.HasSuffix(lines[1], "…") {
		t.Fatalf("queries table:\n%s", out)
	}
	out, err = run("engines")
	if err != nil || !strings.Contains(out, "engine-1") || !strings.Contains(out, "local[*]") {
		t.Fatalf("engines: %v\n%s", err, out)
	}
	if out, err = run("kill", "query", "op-1"); err != nil || out != "query op-1: CANCELED\n" {
		t.Fatalf("kill query: %v %q", err, out)
	}
	// Flags may follow the command's words.
	if out, err = run("kill", "engine", "engine-1", "-grace", "0s"); err != nil || !strings.Contains(out, "draining") {
		t.Fatalf("kill engine: %v %q", err, out)
	}
	if out, err = run("drain"); err != nil || !strings.Contains(out, "draining") {
		t.Fatalf("drain: %v %q", err, out)
	}
	if _, err = run("kill", "query", "nope"); err == nil || !strings.Contains(err.Error(), "no live operation nope (HTTP 404)") {
		t.Fatalf("kill of an unknown id: %v", err)
	}
	if _, err = run("kill", "table", "x"); err == nil {
		t.Fatal("kill table accepted")
	}
	want := []string{
		"GET /api/v1/operations?state=RUNNING&user=alice root:s3cret",
		"GET /api/v1/engines root:s3cret",
		"DELETE /api/v1/operations/op-1 root:s3cret",
		"DELETE /api/v1/engines/engine-1?grace=0s root:s3cret",
		"POST /api/v1/drain root:s3cret",
		"DELETE /api/v1/operations/nope root:s3cret",
	}
	if strings.Join(api.seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(api.seen, "\n"), strings.Join(want, "\n"))
	}

	// The password may come from a file instead of the environment.
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := adminTool([]string{"drain", "-admin-addr", srv.URL, "-user", "root", "-password-file", pw}, &buf); err != nil {
		t.Fatal(err)
	}
	if last := api.seen[len(api.seen)-1]; last != "POST /api/v1/drain root:from-file" {
		t.Fatalf("password file: %s", last)
	}
}

// An administrator's password goes over https, or over http to loopback only.
func TestAdminCLIRefusesPasswordOverHTTP(t *testing.T) {
	t.Setenv(adminPasswordEnv, "s3cret")
	var out bytes.Buffer
	err := adminTool([]string{"sessions", "-admin-addr", "bridge.example.com:10019", "-user", "root"}, &out)
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("credentials over http to another host: %v", err)
	}
	if _, err := newAdminCLI("127.0.0.1:10019", "", "root", "", &out); err != nil {
		t.Fatalf("loopback over http: %v", err)
	}
	if _, err := newAdminCLI("https://bridge.example.com:10019", "", "root", "", &out); err != nil {
		t.Fatalf("https: %v", err)
	}
}
