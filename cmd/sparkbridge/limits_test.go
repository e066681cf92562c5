package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/admin"
	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

func TestLimitsConfigKeys(t *testing.T) {
	fc, err := loadConfigFile(writeConfig(t, `{"limits": {
		"max_connections_per_user": 10, "max_connections_per_address": 50, "max_connections_per_user_address": 0,
		"deny_users": ["mallory", "eve"], "deny_addresses": ["10.0.0.0/8", "192.168.1.5"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.AdmissionConfig{MaxPerUserAddress: 3}
	var users, addrs string
	fc.Limits.apply(&cfg, &users, &addrs)
	if cfg.MaxPerUser != 10 || cfg.MaxPerAddress != 50 || cfg.MaxPerUserAddress != 0 || users != "mallory,eve" || addrs != "10.0.0.0/8,192.168.1.5" {
		t.Fatalf("limits applied: %+v, deny users %q, deny addresses %q", cfg, users, addrs)
	}
	// Keys the file leaves out keep the flags' values.
	fc, err = loadConfigFile(writeConfig(t, `{"limits": {"max_connections_per_address": 5}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, users = auth.AdmissionConfig{MaxPerUser: 7}, "bob"
	fc.Limits.apply(&cfg, &users, &addrs)
	if cfg.MaxPerUser != 7 || cfg.MaxPerAddress != 5 || users != "bob" {
		t.Fatalf("a partial limits object: %+v, %q", cfg, users)
	}
	if _, err := loadConfigFile(writeConfig(t, `{"limits": {"max_connections": 5}}`)); err == nil {
		t.Fatal("an unknown limits key was accepted")
	}
}

// The start-up warning about data authorization: silent only for a bridge that proves who
// users are and runs each user's plans in an engine of that user's own, as that user.
func TestAuthorizationWarnings(t *testing.T) {
	base := engine.DefaultConfig()
	for _, c := range []struct {
		name   string
		trusts bool
		adjust func(*engine.Config)
		want   []string // a phrase of each warning, in order
	}{
		{"NONE says nothing here", true, func(c *engine.Config) { c.ShareLevel = engine.ShareServer }, nil},
		{"USER with proxy user", false, func(c *engine.Config) { c.ProxyUser = true }, nil},
		{"CONNECTION with proxy user", false, func(c *engine.Config) { c.ShareLevel, c.ProxyUser = engine.ShareConnection, true }, nil},
		{"USER without proxy user", false, func(*engine.Config) {}, []string{"share level USER without -proxy-user"}},
		{"GROUP", false, func(c *engine.Config) { c.ShareLevel, c.ProxyUser = engine.ShareGroup, true }, []string{"share level GROUP: every session"}},
		{"SERVER", false, func(c *engine.Config) { c.ShareLevel, c.ProxyUser = engine.ShareServer, true }, []string{"share level SERVER: every session"}},
		{"override", false, func(c *engine.Config) { c.ProxyUser, c.AllowShareLevelOverride = true, true }, []string{"-allow-share-level-override"}},
		{"static engines", false, func(c *engine.Config) {
			c.ProxyUser = true
			c.UserEngines, c.GroupEngines = map[string]string{"bi": "emr"}, map[string]string{"etl": "emr"}
		}, []string{"group etl, user bi routed to static engines"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.adjust(&cfg)
			got := authorizationWarnings(c.trusts, cfg)
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q lacks %q", got[i], w)
				}
				if i == 0 && !strings.Contains(c.name, "static") && !strings.Contains(got[i], "-share-level USER (or CONNECTION) with -proxy-user") {
					t.Errorf("warning %q does not say what to do", got[i])
				}
			}
		})
	}
}

// recordingProvider accepts password and token "right", and counts the checks that reached it.
type recordingProvider struct{ checks atomic.Int32 }

func (p *recordingProvider) Password(_ context.Context, user, password string) (auth.Identity, error) {
	p.checks.Add(1)
	if password != "right" {
		return auth.Identity{}, auth.ErrBadCredentials
	}
	return auth.Identity{User: user, Mechanism: "TEST"}, nil
}
func (p *recordingProvider) Token(ctx context.Context, token, user string) (auth.Identity, error) {
	return p.Password(ctx, user, token)
}
func (p *recordingProvider) TrustsClients() bool { return false }
func (p *recordingProvider) Mode() string        { return "TEST" }

// noSessions refuses every session: the paths under test end at authentication.
type noSessions struct{}

func (noSessions) Open(context.Context, engine.SessionRequest) (*engine.Session, error) {
	return nil, errors.New("no engines in this test")
}
func (noSessions) Taken(string) bool { return false }

// Every credential path (SASL PLAIN, HTTP Basic, Spark Connect bearer), as run() wires it,
// goes through the one Guard with the client's address, before the provider's check: after
// a failure from an address, the next attempt from it waits in the backoff and never reaches
// the provider (it gives up when its handshake or call times out), while another address is
// checked at once; and an address on the deny list never reaches the Guard at all.
func TestEveryCredentialPathGoesThroughTheGuard(t *testing.T) {
	log := logrus.NewEntry(logrus.New())
	log.Logger.SetOutput(io.Discard)
	type attempt func(t *testing.T, from, secret string) error
	paths := map[string]func(t *testing.T, tcfg thriftfront.Config, ccfg connectfront.Config) attempt{
		"sasl-plain": func(t *testing.T, tcfg thriftfront.Config, _ connectfront.Config) attempt {
			tcfg.HandshakeTimeout = 300 * time.Millisecond
			h := thriftfront.NewHandler(tcfg, noSessions{}, log)
			srv := thriftfront.NewServer(tcfg, h, log)
			ln := listen(t)
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { ln.Close(); srv.Close(); h.Close() })
			return func(t *testing.T, from, secret string) error { return saslFrom(t, from, ln.Addr().String(), secret) }
		},
		"http-basic": func(t *testing.T, tcfg thriftfront.Config, _ connectfront.Config) attempt {
			h := thriftfront.NewHandler(tcfg, noSessions{}, log)
			srv := httptest.NewServer(thriftfront.NewHTTPHandler(h, log))
			t.Cleanup(func() { srv.Close(); h.Close() })
			return func(t *testing.T, from, secret string) error {
				c := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DialContext: dialerFrom(from).DialContext}}
				// No body: net/http watches for the client going away (which cancels the
				// request's context, and so a wait in the backoff) only once the body is read.
				req, _ := http.NewRequest("POST", srv.URL, http.NoBody)
				req.SetBasicAuth("alice", secret)
				resp, err := c.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
					return errors.New(resp.Status + ": " + string(body))
				}
				return nil // authenticated (the body is no Thrift request: 400)
			}
		},
		"connect-bearer": func(t *testing.T, _ thriftfront.Config, ccfg connectfront.Config) attempt {
			srv := connectfront.New(ccfg, noSessions{}, log)
			ln := listen(t)
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(srv.Stop)
			return func(t *testing.T, from, secret string) error {
				conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
					grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
						return dialerFrom(from).DialContext(ctx, "tcp", addr)
					}))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+secret), 300*time.Millisecond)
				defer cancel()
				_, err = connectgrpc.NewSparkConnectServiceClient(conn).Config(ctx, &connect.ConfigRequest{SessionId: uuid.NewString(), UserContext: &connect.UserContext{UserId: "alice"},
					Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Get{Get: &connect.ConfigRequest_Get{Keys: []string{"k"}}}}})
				if err != nil && strings.Contains(err.Error(), "no engines in this test") {
					return nil // authenticated, and then no session
				}
				if c := status.Code(err); c != codes.Unauthenticated && c != codes.PermissionDenied && c != codes.DeadlineExceeded {
					t.Fatalf("unexpected answer: %v", err)
				}
				return err
			}
		},
	}
	for name, start := range paths {
		t.Run(name, func(t *testing.T) {
			inner := &recordingProvider{}
			gcfg := auth.DefaultGuardConfig()
			gcfg.BackoffBase, gcfg.BackoffMax, gcfg.CacheTTL = time.Hour, time.Hour, 0
			guard := auth.NewGuard(inner, gcfg, log)
			adm, err := auth.NewAdmission(auth.AdmissionConfig{DenyAddresses: []string{"127.0.0.2"}}, log)
			if err != nil {
				t.Fatal(err)
			}
			tcfg, ccfg, acfg := thriftfront.DefaultConfig(), connectfront.DefaultConfig(), admin.DefaultConfig()
			wireAuth(guard, adm, &tcfg, &ccfg, &acfg)
			if acfg.Auth != auth.Provider(guard) {
				t.Fatal("the admin API does not check credentials through the guard")
			}
			try := start(t, tcfg, ccfg)

			if err := try(t, "127.0.0.3", "wrong"); err == nil {
				t.Fatal("a wrong secret was accepted")
			}
			if n := inner.checks.Load(); n != 1 {
				t.Fatalf("%d checks after one attempt", n)
			}
			// The same address again, with the right secret: held in the backoff (an hour),
			// so that the call times out without the provider being asked.
			if err := try(t, "127.0.0.3", "right"); err == nil {
				t.Fatal("an attempt during the backoff was accepted")
			}
			// Another address is checked at once.
			if err := try(t, "127.0.0.4", "right"); err != nil {
				t.Fatalf("another address: %v", err)
			}
			// A denied address, with the right secret, never reaches the guard.
			if err := try(t, "127.0.0.2", "right"); err == nil || !strings.Contains(err.Error(), "connections from 127.0.0.2 are not allowed") {
				t.Fatalf("a denied address: %v", err)
			}
			if n := inner.checks.Load(); n != 2 {
				t.Fatalf("the provider checked %d secrets, want 2: the one before the backoff and the other address's", n)
			}
		})
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// dialerFrom dials from a loopback address of the test's choice (Linux routes all of
// 127.0.0.0/8 to lo), so that one test can be several clients.
func dialerFrom(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// saslFrom negotiates SASL PLAIN as alice from ip and returns the server's refusal, if any.
func saslFrom(t *testing.T, from, addr, password string) error {
	t.Helper()
	c, err := dialerFrom(from).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := func(st byte, payload string) []byte {
		return append([]byte{st, byte(len(payload) >> 24), byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload))}, payload...)
	}
	if _, err := c.Write(append(msg(1, "PLAIN"), msg(5, "\x00alice\x00"+password)...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	n := int(hdr[1])<<24 | int(hdr[2])<<16 | int(hdr[3])<<8 | int(hdr[4])
	payload := make([]byte, n)
	if _, err := io.ReadFull(c, payload); err != nil {
		return err
	}
	if hdr[0] != 5 { // COMPLETE
		return errors.New(string(payload))
	}
	return nil
}
