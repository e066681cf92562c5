package thriftfront

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// countingAuth accepts every password but "wrong", and counts the checks it was asked for.
type countingAuth struct{ checks atomic.Int32 }

func (p *countingAuth) Password(_ context.Context, user, password string) (auth.Identity, error) {
	p.checks.Add(1)
	if password == "wrong" {
		return auth.Identity{}, auth.ErrBadCredentials
	}
	return auth.Identity{User: user, Mechanism: "TEST"}, nil
}
func (p *countingAuth) Token(context.Context, string, string) (auth.Identity, error) {
	return auth.Identity{}, auth.ErrBadCredentials
}
func (p *countingAuth) TrustsClients() bool { return false }
func (p *countingAuth) Mode() string        { return "TEST" }

func newAdmission(t *testing.T, cfg auth.AdmissionConfig) *auth.Admission {
	t.Helper()
	a, err := auth.NewAdmission(cfg, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// admissionBridge serves both transports of one handler, with p and a.
func admissionBridge(t *testing.T, p auth.Provider, a *auth.Admission) (binAddr, httpURL string, mgr *engine.Manager) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Auth, cfg.Admission = p, a
	b, h := startBridgeWith(t, cfg)
	mux := http.NewServeMux()
	mux.Handle("/cliservice", NewHTTPHandler(h, logrus.NewEntry(logrus.New())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return b.addr, srv.URL + "/cliservice", b.mgr
}

// saslAttempt negotiates SASL PLAIN on a new connection and returns the answer's status and
// message; the connection stays open (for the test) when accepted.
func saslAttempt(t *testing.T, addr, user, pass string) (byte, string, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslComplete, "\x00"+user+"\x00"+pass)...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, msg, err := readSASLMessage(c)
	if err != nil {
		t.Fatalf("no SASL answer: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return status, string(msg), c
}

// httpClient is a TCLIService client over the HTTP transport with Basic credentials.
func httpClient(t *testing.T, url, user, pass string) *hiveserver.TCLIServiceClient {
	t.Helper()
	trans, err := thrift.NewTHttpClientWithOptions(url, thrift.THttpClientOptions{Client: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url, nil)
	req.SetBasicAuth(user, pass)
	trans.(*thrift.THttpClient).SetHeader("Authorization", req.Header.Get("Authorization"))
	return hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
}

func postBasic(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader("not thrift"))
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A denied address is refused, with its reason, before the provider is asked anything: on
// the binary transport (a SASL BAD message) and over HTTP (403), with good credentials and
// bad alike.
func TestDeniedAddressNeverReachesTheProvider(t *testing.T) {
	p := &countingAuth{}
	bin, url, _ := admissionBridge(t, p, newAdmission(t, auth.AdmissionConfig{DenyAddresses: []string{"127.0.0.0/8"}}))
	for _, pw := range []string{"right", "wrong"} {
		status, msg, _ := saslAttempt(t, bin, "alice", pw)
		if status != saslBad || msg != "sparkbridge: connections from 127.0.0.1 are not allowed" {
			t.Fatalf("binary, password %s: status %d, %q", pw, status, msg)
		}
		code, body := postBasic(t, url, "alice", pw)
		if code != http.StatusForbidden || !strings.Contains(body, "connections from 127.0.0.1 are not allowed") {
			t.Fatalf("HTTP, password %s: %d %q", pw, code, body)
		}
	}
	if n := p.checks.Load(); n != 0 {
		t.Fatalf("the provider checked %d credentials from a denied address", n)
	}
}

// A denied user is refused right after authentication, on every path: SASL PLAIN, NOSASL
// (whose user OpenSession names), HTTP Basic.
func TestDeniedUserIsRefusedAfterAuthentication(t *testing.T) {
	a := newAdmission(t, auth.AdmissionConfig{DenyUsers: []string{"mallory"}})
	bin, url, _ := admissionBridge(t, &countingAuth{}, a)
	if status, msg, _ := saslAttempt(t, bin, "mallory", "right"); status != saslBad || msg != "sparkbridge: user mallory is not allowed to connect" {
		t.Fatalf("SASL: status %d, %q", status, msg)
	}
	// A wrong password says so, and nothing about the deny list.
	if status, msg, _ := saslAttempt(t, bin, "mallory", "wrong"); status != saslBad || !strings.Contains(msg, "invalid credentials") {
		t.Fatalf("SASL, wrong password: status %d, %q", status, msg)
	}
	if code, body := postBasic(t, url, "mallory", "right"); code != http.StatusForbidden || !strings.Contains(body, "user mallory is not allowed") {
		t.Fatalf("HTTP: %d %q", code, body)
	}
	// NOSASL carries no credentials: a bridge that trusts clients takes OpenSession's user.
	cfg := DefaultConfig()
	cfg.Admission = a
	nb, _ := startBridgeWith(t, cfg)
	user := "mallory"
	resp, err := nb.noSASLClient(t).OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || resp.Status.GetSqlState() != "28000" ||
		resp.Status.GetErrorMessage() != "sparkbridge: user mallory is not allowed to connect" {
		t.Fatalf("NOSASL OpenSession as mallory: %+v", resp.Status)
	}
}

// The per-user cap counts binary connections and HTTP sessions together: over it, SASL says
// BAD and an HTTP OpenSession fails, each with the reason; closing a connection, closing an
// HTTP session, or the engine layer ending one makes room again.
func TestUserCapAcrossTransports(t *testing.T) {
	a := newAdmission(t, auth.AdmissionConfig{MaxPerUser: 1})
	bin, url, mgr := admissionBridge(t, &countingAuth{}, a)
	status, _, held := saslAttempt(t, bin, "alice", "right")
	if status != saslComplete {
		t.Fatalf("first connection: status %d", status)
	}
	status, msg, _ := saslAttempt(t, bin, "alice", "right")
	if status != saslBad || msg != "sparkbridge: user alice already has 1 open connection, the most one user may have; close one and try again" {
		t.Fatalf("second connection: status %d, %q", status, msg)
	}
	v10 := hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10
	hc := httpClient(t, url, "alice", "right")
	resp, err := hc.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: v10})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || resp.Status.GetSqlState() != "53000" ||
		!strings.Contains(resp.Status.GetErrorMessage(), "user alice already has 1 open connection") {
		t.Fatalf("HTTP OpenSession over the cap: %+v", resp.Status)
	}
	// Another user is not affected.
	openSession(t, httpClient(t, url, "bob", "right"), "", v10)

	held.Close()
	waitCount(t, a, "alice", 0)
	sh := openSession(t, hc, "", v10)
	if status, _, _ := saslAttempt(t, bin, "alice", "right"); status != saslBad {
		t.Fatalf("a binary connection beside an open HTTP session: status %d", status)
	}
	cr, err := hc.CloseSession(context.Background(), &hiveserver.TCloseSessionReq{SessionHandle: sh})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, cr.Status)
	waitCount(t, a, "alice", 0)

	// An HTTP session the engine layer ends (here an operator's close) is released without
	// a call from its client.
	sh2 := openSession(t, hc, "", v10)
	waitCount(t, a, "alice", 1)
	for _, s := range mgr.Sessions(engine.Filter{User: "alice"}) {
		if err := mgr.CloseSession(context.Background(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
	waitCount(t, a, "alice", 0)
	// The client's next call is told why its session ended.
	gi, err := hc.GetInfo(context.Background(), &hiveserver.TGetInfoReq{SessionHandle: sh2, InfoType: hiveserver.TGetInfoType_CLI_DBMS_VER})
	if err != nil {
		t.Fatal(err)
	}
	if gi.Status.StatusCode != hiveserver.TStatusCode_INVALID_HANDLE_STATUS || !strings.Contains(gi.Status.GetErrorMessage(), "the session was") {
		t.Fatalf("a call on the ended session: %+v", gi.Status)
	}
}

// waitCount waits, bounded, for user's count to reach want: a connection is released by its
// own goroutine after the client has gone.
func waitCount(t *testing.T, a *auth.Admission, user string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _, _ := a.Counts(user, "")
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d connections counted, want %d", user, n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The address cap applies from accept, before SASL: the connection over it is told why.
func TestAddressCapBeforeSASL(t *testing.T) {
	a := newAdmission(t, auth.AdmissionConfig{MaxPerAddress: 1})
	p := &countingAuth{}
	bin, _, _ := admissionBridge(t, p, a)
	if status, _, _ := saslAttempt(t, bin, "alice", "right"); status != saslComplete {
		t.Fatalf("first connection: status %d", status)
	}
	status, msg, _ := saslAttempt(t, bin, "bob", "right")
	if status != saslBad || !strings.Contains(msg, "127.0.0.1 already has 1 open connection, the most one client address may have") {
		t.Fatalf("second connection: status %d, %q", status, msg)
	}
	if n := p.checks.Load(); n != 1 {
		t.Fatalf("the provider checked %d credentials, want 1 (the refused connection's were not looked at)", n)
	}
}
