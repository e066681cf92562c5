package thriftfront

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// countingTransport counts requests that carried an Authorization header.
type countingTransport struct {
	withAuth int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") != "" {
		c.withAuth++
	}
	return http.DefaultTransport.RoundTrip(r)
}

func startHTTPBridge(t *testing.T, p auth.Provider) (*httptest.Server, *engine.Manager) {
	t.Helper()
	_, mgr, entry := newFakeEngine(t)
	cfg := DefaultConfig()
	cfg.Auth = p
	cfg.MaxFrameSize = 1 << 20
	mem := checkedAllocator(nil)
	cfg.Allocator = mem
	h := NewHandler(cfg, mgr, entry)
	mux := http.NewServeMux()
	mux.Handle("/cliservice", NewHTTPHandler(h, entry))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); h.Close(); mem.AssertSize(t, 0); _ = mgr.Close(context.Background()) })
	return srv, mgr
}

func TestHTTPTransport(t *testing.T) {
	hash, _ := auth.HashPassword("pw")
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, []byte(`{"users": [{"name": "dana", "password": "`+hash+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, mgr := startHTTPBridge(t, users)

	jar, _ := cookiejar.New(nil)
	counter := &countingTransport{}
	trans, err := thrift.NewTHttpClientWithOptions(srv.URL+"/cliservice", thrift.THttpClientOptions{Client: &http.Client{Jar: jar, Transport: counter}})
	if err != nil {
		t.Fatal(err)
	}
	ht := trans.(*thrift.THttpClient)
	ht.SetHeader("Authorization", "Basic ZGFuYTpwdw==") // dana:pw
	ht.SetHeader("X-XSRF-HEADER", "true")
	c := hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
	sh := openSession(t, c, "ignored", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	if s := mgr.Sessions(engine.Filter{}); len(s) != 1 || s[0].User != "dana" {
		t.Fatalf("sessions %+v, want one of dana", s)
	}
	// After the first request the cookie stands in for the credentials.
	ht.DelHeader("Authorization")
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 1200"})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	ids, _ := fetchAll(t, c, resp.OperationHandle, 500)
	if len(ids) != 1200 {
		t.Fatalf("fetched %d rows over HTTP", len(ids))
	}
	if counter.withAuth != 1 {
		t.Fatalf("%d requests carried credentials; the cookie should have replaced them after the first", counter.withAuth)
	}
	// The session survives the HTTP connection.
	if len(mgr.Sessions(engine.Filter{})) != 1 {
		t.Fatal("session closed between HTTP requests")
	}
}

func TestHTTPRejects(t *testing.T) {
	srv, _ := startHTTPBridge(t, auth.None{})
	get, err := http.Get(srv.URL + "/cliservice")
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", get.StatusCode)
	}
	big, err := http.Post(srv.URL+"/cliservice", "application/x-thrift", bytes.NewReader(make([]byte, 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	big.Body.Close()
	if big.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", big.StatusCode)
	}
	junk, err := http.Post(srv.URL+"/cliservice", "application/x-thrift", strings.NewReader("not thrift at all"))
	if err != nil {
		t.Fatal(err)
	}
	junk.Body.Close()
	if junk.StatusCode != http.StatusBadRequest {
		t.Fatalf("junk body: %d", junk.StatusCode)
	}

	hash, _ := auth.HashPassword("pw")
	path := filepath.Join(t.TempDir(), "users.json")
	_ = os.WriteFile(path, []byte(`{"users": [{"name": "dana", "password": "`+hash+`"}]}`), 0o600)
	users, _ := auth.LoadFile(path)
	secured, _ := startHTTPBridge(t, users)
	req, _ := http.NewRequest(http.MethodPost, secured.URL+"/cliservice", strings.NewReader("x"))
	req.SetBasicAuth("dana", "wrong")
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", bad.StatusCode)
	}
}

// The auth cookie carries the whole identity (groups and mechanism too) and only as signed:
// a changed payload or signature, or an expired cookie, is no identity.
func TestAuthCookieCarriesTheIdentity(t *testing.T) {
	log := logrus.NewEntry(logrus.New())
	x := NewHTTPHandler(NewHandler(DefaultConfig(), nil, log), log)
	id := auth.Identity{User: "carol", Groups: []string{"etl", "bi"}, Mechanism: "LDAP"}
	value := x.signCookie(id)
	req := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/cliservice", nil)
		r.AddCookie(&http.Cookie{Name: authCookie, Value: v})
		return r
	}
	got, ok := x.cookieIdentity(req(value))
	if !ok || got.User != "carol" || strings.Join(got.Groups, ",") != "etl,bi" || got.Mechanism != "LDAP" {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	payload, sig, _ := strings.Cut(value, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"u":"root","exp":99999999999}`))
	for name, v := range map[string]string{"forged payload": forged + "." + sig, "bad signature": payload + ".AAAA", "no signature": payload} {
		if id, ok := x.cookieIdentity(req(v)); ok {
			t.Errorf("%s accepted as %+v", name, id)
		}
	}
	other := NewHTTPHandler(NewHandler(DefaultConfig(), nil, log), log)
	if _, ok := other.cookieIdentity(req(value)); ok {
		t.Error("another bridge's key accepted the cookie")
	}
}

// A bearer token authenticates over HTTP like Basic credentials, and wins when a client
// sends both (Hive JDBC before 4.0 always adds Basic, anonymous when it has no user, and
// sends ;http.header.Authorization=Bearer%20<token> as a second header). A refused token is
// 401 with both challenges, and the cookie a token earns does not outlive the token.
func TestHTTPBearer(t *testing.T) {
	const token = "tok-of-erin-0123456789"
	path := filepath.Join(t.TempDir(), "users.json")
	sum := sha256.Sum256([]byte(token))
	users := `{"users": [{"name": "erin", "tokens": ["sha256:` + hex.EncodeToString(sum[:]) + `"]}]}`
	if err := os.WriteFile(path, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, mgr := startHTTPBridge(t, file)
	for _, headers := range [][]string{
		{"Bearer " + token},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("anonymous:")), "Bearer " + token},
		{"bearer " + token},
	} {
		trans, err := thrift.NewTHttpClientWithOptions(srv.URL+"/cliservice", thrift.THttpClientOptions{Client: &http.Client{
			Transport: &headerTransport{values: headers}}})
		if err != nil {
			t.Fatal(err)
		}
		c := hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
		openSession(t, c, "claimed", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	}
	for _, s := range mgr.Sessions(engine.Filter{}) {
		if s.User != "erin" {
			t.Fatalf("a session of %s, want erin (the token's user)", s.User)
		}
	}
	if n := len(mgr.Sessions(engine.Filter{})); n != 3 {
		t.Fatalf("%d sessions, want 3", n)
	}
	for _, headers := range [][]string{{"Bearer wrong-token"}, {"Basic " + base64.StdEncoding.EncodeToString([]byte("erin:x")), "Bearer wrong-token"}, {"Bearer "}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/cliservice", strings.NewReader("x"))
		for _, h := range headers {
			req.Header.Add("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ";"), "Bearer") {
			t.Fatalf("%q: %d %v, want 401 with a Bearer challenge", headers, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
	}

	log := logrus.NewEntry(logrus.New())
	x := NewHTTPHandler(NewHandler(DefaultConfig(), nil, log), log)
	r := httptest.NewRequest(http.MethodPost, "/cliservice", nil)
	r.AddCookie(&http.Cookie{Name: authCookie, Value: x.signCookie(auth.Identity{User: "erin", Mechanism: "JWT", Expires: time.Now().Add(-time.Second)})})
	if id, ok := x.cookieIdentity(r); ok {
		t.Fatalf("the cookie of an expired token was accepted as %+v", id)
	}
}

// headerTransport adds Authorization headers to every request.
type headerTransport struct{ values []string }

func (h *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for _, v := range h.values {
		r.Header.Add("Authorization", v)
	}
	return http.DefaultTransport.RoundTrip(r)
}
