package thriftfront

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/hs2client"
)

// countingPasswords accepts password "right" and counts the checks that reach it.
type countingPasswords struct{ calls atomic.Int32 }

func (p *countingPasswords) Password(_ context.Context, user, password string) (auth.Identity, error) {
	p.calls.Add(1)
	if password != "right" {
		return auth.Identity{}, auth.ErrBadCredentials
	}
	return auth.Identity{User: user, Mechanism: "TEST"}, nil
}
func (p *countingPasswords) Token(context.Context, string, string) (auth.Identity, error) {
	return auth.Identity{}, auth.ErrBadCredentials
}
func (p *countingPasswords) TrustsClients() bool { return false }
func (p *countingPasswords) Mode() string        { return "TEST" }

// hourGuard wraps p in a guard whose backoff after one failure outlasts any test: an attempt
// that reaches p after a failure from the same address was not held by the backoff.
func hourGuard(p auth.Provider) *auth.Guard {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return auth.NewGuard(p, auth.GuardConfig{BackoffBase: time.Hour, BackoffMax: time.Hour, Workers: 1, LogInterval: time.Hour}, logrus.NewEntry(l))
}

// TestSASLGoesThroughTheGuard: after a wrong password, the next SASL PLAIN attempt from the
// address waits in the backoff until the handshake deadline, and never reaches the provider.
func TestSASLGoesThroughTheGuard(t *testing.T) {
	p := &countingPasswords{}
	cfg := DefaultConfig()
	cfg.Auth = hourGuard(p)
	cfg.HandshakeTimeout = 500 * time.Millisecond
	b, _ := startBridgeWith(t, cfg)
	for _, pass := range []string{"wrong", "right"} {
		conn, err := net.Dial("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hs2client.SASLPlain(conn, "alice", pass)
		conn.Close()
		if err == nil {
			t.Fatalf("password %q was accepted", pass)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d checks reached the provider, want 1: the backoff did not hold the second", n)
	}
}

// TestHTTPBasicGoesThroughTheGuard is the same over the HTTP transport. A request's context
// ends only once its body is read, so the held attempt is let through after the backoff
// here: it cannot end before the backoff has passed since the failure.
func TestHTTPBasicGoesThroughTheGuard(t *testing.T) {
	p := &countingPasswords{}
	const backoff = time.Second
	l := logrus.New()
	l.SetOutput(io.Discard)
	srv, _ := startHTTPBridge(t, auth.NewGuard(p, auth.GuardConfig{BackoffBase: backoff, BackoffMax: backoff, Workers: 1, LogInterval: time.Hour}, logrus.NewEntry(l)))
	post := func(pass string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/cliservice", strings.NewReader("x"))
		req.SetBasicAuth("alice", pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	start := time.Now()
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", code)
	}
	post("right") // the body is no Thrift message: the answer is 400, after authentication
	if elapsed := time.Since(start); elapsed < backoff || p.calls.Load() != 2 {
		t.Fatalf("the attempt after a failure was checked %v after it (%d checks), before the %v backoff", elapsed, p.calls.Load(), backoff)
	}
}

// refusalProvider refuses with a message that says why.
type refusalProvider struct{ countingPasswords }

func (*refusalProvider) Password(context.Context, string, string) (auth.Identity, error) {
	return auth.Identity{}, errors.Join(errors.New(`user "carol" is not a member of an allowed LDAP group (bi)`), auth.ErrBadCredentials)
}

// TestHTTPBasicRefusalMessage: a refusal that says why (a user outside the allowed LDAP
// groups) reaches the HTTP client.
func TestHTTPBasicRefusalMessage(t *testing.T) {
	srv, _ := startHTTPBridge(t, &refusalProvider{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/cliservice", strings.NewReader("x"))
	req.SetBasicAuth("carol", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "not a member of an allowed LDAP group") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}
