package jwtauth

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/auth/jwtauth/jwttest"
)

const (
	issuer   = "https://idp.example.test/realms/corp"
	audience = "sparkbridge"
)

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func mustRSA(t *testing.T, kid string) *jwttest.Key {
	t.Helper()
	k, err := jwttest.NewRSA(kid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustEC(t *testing.T, kid string) *jwttest.Key {
	t.Helper()
	k, err := jwttest.NewEC(kid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// claims returns valid claims for sub, changed by edit.
func claims(sub string, edit func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": issuer, "aud": audience, "sub": sub, "iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(), "preferred_username": sub + ".name", "groups": []string{"analysts", "eng"}}
	if edit != nil {
		edit(c)
	}
	return c
}

func testConfig(url string) Config {
	cfg := DefaultConfig()
	cfg.JWKSURL, cfg.Issuer, cfg.Audience, cfg.GroupsClaim = url, issuer, audience, "groups"
	return cfg
}

func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	p, err := New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestTokens runs a table of tokens, good and bad in every way the issue lists, against a
// JWKS served over TLS.
func TestTokens(t *testing.T) {
	rsaKey := mustRSA(t, "rsa-1")
	ecKey := mustEC(t, "ec-1")
	stranger := mustRSA(t, "stranger")
	srv := jwttest.NewServer(true, rsaKey, ecKey)
	defer srv.Close()
	cfg := testConfig(srv.JWKSURL())
	cfg.HTTPClient = srv.Client()
	p := newProvider(t, cfg)

	minutes := func(m int) int64 { return time.Now().Add(time.Duration(m) * time.Minute).Unix() }
	seconds := func(s int) int64 { return time.Now().Add(time.Duration(s) * time.Second).Unix() }
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	for _, c := range []struct {
		name   string
		token  string
		user   string // empty: refused
		groups []string
	}{
		{"RS256", rsaKey.Sign(claims("alice", nil)), "alice", []string{"analysts", "eng"}},
		{"ES256", ecKey.Sign(claims("bob", nil)), "bob", []string{"analysts", "eng"}},
		{"audience in a list", rsaKey.Sign(claims("carol", set("aud", []string{"other", audience}))), "carol", []string{"analysts", "eng"}},
		{"groups as one string", rsaKey.Sign(claims("dan", set("groups", "ops, dev"))), "dan", []string{"ops", "dev"}},
		{"no groups claim", rsaKey.Sign(claims("erin", del("groups"))), "erin", nil},
		{"expired 30 s ago, within the leeway", rsaKey.Sign(claims("fay", set("exp", seconds(-30)))), "fay", []string{"analysts", "eng"}},
		{"nbf in 30 s, within the leeway", rsaKey.Sign(claims("gus", set("nbf", seconds(30)))), "gus", []string{"analysts", "eng"}},

		{"expired", rsaKey.Sign(claims("x", set("exp", minutes(-5)))), "", nil},
		{"not yet valid", rsaKey.Sign(claims("x", set("nbf", minutes(5)))), "", nil},
		{"no exp", rsaKey.Sign(claims("x", del("exp"))), "", nil},
		{"wrong audience", rsaKey.Sign(claims("x", set("aud", "another-app"))), "", nil},
		{"no audience", rsaKey.Sign(claims("x", del("aud"))), "", nil},
		{"wrong issuer", rsaKey.Sign(claims("x", set("iss", "https://evil.example.test"))), "", nil},
		{"no issuer", rsaKey.Sign(claims("x", del("iss"))), "", nil},
		{"bad signature: another key under a published kid", stranger.SignAs("rsa-1", claims("x", nil)), "", nil},
		{"unknown key", stranger.Sign(claims("x", nil)), "", nil},
		{"alg none", jwttest.Unsigned("rsa-1", claims("x", nil)), "", nil},
		{"alg none without kid", jwttest.Unsigned("", claims("x", nil)), "", nil},
		{"HS256 with the public key as secret", rsaKey.HMACWithPublicKey(claims("x", nil)), "", nil},
		{"tampered payload", tamper(rsaKey.Sign(claims("x", nil))), "", nil},
		{"no user claim", rsaKey.Sign(claims("x", del("sub"))), "", nil},
		{"user claim not a string", rsaKey.Sign(claims("x", set("sub", 42))), "", nil},
		{"not a JWT", "opaque-token-of-another-mode", "", nil},
		{"three dots of garbage", "a.b.c", "", nil},
		{"empty", "", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := p.Token(context.Background(), c.token, "claimed-user")
			if c.user == "" {
				if !errors.Is(err, auth.ErrBadCredentials) {
					t.Fatalf("accepted as %+v (err %v), want ErrBadCredentials", id, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if id.User != c.user || !slices.Equal(id.Groups, c.groups) || id.Mechanism != "JWT" || id.Expires.IsZero() {
				t.Fatalf("identity %+v, want user %s, groups %v, mechanism JWT and an expiry", id, c.user, c.groups)
			}
		})
	}
	if _, err := p.Password(context.Background(), "alice", rsaKey.Sign(claims("alice", nil))); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a JWT provider accepted a password: %v", err)
	}
}

// tamper changes a signed token's payload, keeping its signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + issuer + `","aud":"` + audience + `","sub":"root","exp":9999999999}`))
	return strings.Join(parts, ".")
}

// A configured claim names the user, and dotted names reach nested claims.
func TestClaims(t *testing.T) {
	k := mustRSA(t, "k")
	srv := jwttest.NewServer(false, k)
	defer srv.Close()
	cfg := testConfig(srv.JWKSURL())
	cfg.UserClaim, cfg.GroupsClaim = "preferred_username", "realm_access.roles"
	p := newProvider(t, cfg)
	id, err := p.Token(context.Background(), k.Sign(claims("u1", set2("realm_access", map[string]any{"roles": []any{"admin", 3, "bi"}}))), "")
	if err != nil || id.User != "u1.name" || !slices.Equal(id.Groups, []string{"admin", "bi"}) {
		t.Fatalf("got %+v, %v; want user u1.name, groups [admin bi]", id, err)
	}
}

func set2(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }

// A key rotation is picked up without a restart: a token naming a kid the cached set lacks
// fetches the set again, once; a key the identity provider removed stops being accepted;
// made-up kids do not cause more fetches within MinRefreshInterval.
func TestKeyRotation(t *testing.T) {
	oldKey := mustRSA(t, "2024")
	newKey := mustEC(t, "2025")
	srv := jwttest.NewServer(false, oldKey)
	defer srv.Close()
	cfg := testConfig(srv.JWKSURL())
	cfg.MinRefreshInterval = time.Hour
	p := newProvider(t, cfg)
	ctx := context.Background()
	if _, err := p.Token(ctx, oldKey.Sign(claims("alice", nil)), ""); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	if n := srv.Fetches(); n != 1 {
		t.Fatalf("%d fetches after start and one token, want 1", n)
	}
	srv.SetKeys(newKey)
	// Many clients arrive with new tokens at once: they share one fetch.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := p.Token(ctx, newKey.Sign(claims("bob", nil)), "")
			if err == nil && id.User != "bob" {
				err = errors.New("wrong user " + id.User)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("after the rotation: %v", err)
		}
	}
	if n := srv.Fetches(); n != 2 {
		t.Fatalf("%d fetches after the rotation, want 2", n)
	}
	if _, err := p.Token(ctx, oldKey.Sign(claims("alice", nil)), ""); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a token of the removed key: %v", err)
	}
	for i := 0; i < 5; i++ {
		stranger := mustEC(t, "made-up-"+string(rune('a'+i)))
		if _, err := p.Token(ctx, stranger.Sign(claims("x", nil)), ""); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("a made-up kid: %v", err)
		}
	}
	if n := srv.Fetches(); n != 2 {
		t.Fatalf("made-up kids caused %d fetches within MinRefreshInterval, want none", n-2)
	}
}

// With MinRefreshInterval 0 every unknown kid fetches again.
func TestUnknownKIDWithoutRateLimit(t *testing.T) {
	k := mustRSA(t, "k")
	srv := jwttest.NewServer(false, k)
	defer srv.Close()
	cfg := testConfig(srv.JWKSURL())
	cfg.MinRefreshInterval = 0
	p := newProvider(t, cfg)
	for i := 0; i < 3; i++ {
		_, _ = p.Token(context.Background(), mustEC(t, "other").Sign(claims("x", nil)), "")
	}
	if n := srv.Fetches(); n != 4 {
		t.Fatalf("%d fetches for start and 3 unknown kids, want 4", n)
	}
}

// An identity provider that is down is not a wrong token: the error says so (a chain reports
// it), and once the provider is back the next token is checked, without a restart.
func TestJWKSDown(t *testing.T) {
	k := mustRSA(t, "k")
	srv := jwttest.NewServer(false, k)
	defer srv.Close()
	srv.SetFailing(true)
	p := newProvider(t, testConfig(srv.JWKSURL())) // starts although the first fetch fails
	tok := k.Sign(claims("alice", nil))
	_, err := p.Token(context.Background(), tok, "")
	if err == nil || errors.Is(err, auth.ErrBadCredentials) || !strings.Contains(err.Error(), "JWKS") {
		t.Fatalf("with the JWKS down: %v, want an error that is not ErrBadCredentials and names the JWKS", err)
	}
	srv.SetFailing(false)
	if id, err := p.Token(context.Background(), tok, ""); err != nil || id.User != "alice" {
		t.Fatalf("with the JWKS back: %+v, %v", id, err)
	}
	// A refresh that fails later keeps the keys fetched before.
	srv.SetFailing(true)
	if err := p.keys.refresh(context.Background(), false); err == nil {
		t.Fatal("a refresh from a failing server succeeded")
	}
	if id, err := p.Token(context.Background(), k.Sign(claims("bob", nil)), ""); err != nil || id.User != "bob" {
		t.Fatalf("after a failed refresh: %+v, %v", id, err)
	}
}

// Chained before FILE, a JWT provider passes opaque tokens on; through the Guard, a JWT is
// checked after the backoff like any credential.
func TestChainAndGuard(t *testing.T) {
	k := mustRSA(t, "k")
	srv := jwttest.NewServer(false, k)
	defer srv.Close()
	p := newProvider(t, testConfig(srv.JWKSURL()))
	file := fileWithToken(t, "opaque-token-0123456789", "svc")
	chain, err := auth.NewChain(p, file)
	if err != nil {
		t.Fatal(err)
	}
	gcfg := auth.DefaultGuardConfig()
	gcfg.BackoffBase, gcfg.BackoffMax = time.Hour, time.Hour
	g := auth.NewGuard(chain, gcfg, quiet())
	ctx := auth.WithClientAddr(context.Background(), "10.1.1.1:4000")
	if id, err := g.Token(ctx, k.Sign(claims("alice", nil)), ""); err != nil || id.Mechanism != "JWT" || id.User != "alice" {
		t.Fatalf("a JWT through the chain: %+v, %v", id, err)
	}
	if id, err := g.Token(ctx, "opaque-token-0123456789", ""); err != nil || id.Mechanism != "FILE" || id.User != "svc" {
		t.Fatalf("a FILE token through the chain: %+v, %v", id, err)
	}
	if _, err := g.Token(ctx, k.Sign(claims("x", set2("aud", "other"))), ""); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a bad JWT: %v", err)
	}
	// The address is now in backoff (an hour): a token from it (naming a new kid, which would
	// fetch the JWKS) waits before it is checked, and its client gives up first.
	fetches := srv.Fetches()
	waiting, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.Token(waiting, mustRSA(t, "new").Sign(claims("alice", nil)), ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a token from an address in backoff: %v, want it held until its client gave up", err)
	}
	if srv.Fetches() != fetches {
		t.Fatal("a token from an address in backoff reached the JWKS")
	}
}

func fileWithToken(t *testing.T, token, user string) auth.Provider {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	path := filepath.Join(t.TempDir(), "users.json")
	users := fmt.Sprintf(`{"users": [{"name": %q, "tokens": ["sha256:%x"]}]}`, user, sum)
	if err := os.WriteFile(path, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConfigChecks(t *testing.T) {
	ok := testConfig("https://idp.example.test/jwks")
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no url", func(c *Config) { c.JWKSURL = "" }, "-jwt-jwks-url"},
		{"plain http to a remote host", func(c *Config) { c.JWKSURL = "http://idp.example.test/jwks" }, "https"},
		{"no issuer", func(c *Config) { c.Issuer = "" }, "-jwt-issuer"},
		{"no audience", func(c *Config) { c.Audience = "" }, "-jwt-audience"},
		{"alg none", func(c *Config) { c.Algorithms = []string{"RS256", "none"} }, "never none or HMAC"},
		{"HS256", func(c *Config) { c.Algorithms = []string{"HS256"} }, "never none or HMAC"},
		{"no algorithms", func(c *Config) { c.Algorithms = nil }, "empty"},
		{"no user claim", func(c *Config) { c.UserClaim = "" }, "-jwt-user-claim"},
	} {
		cfg := ok
		c.edit(&cfg)
		if err := cfg.check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if err := ok.check(); err != nil {
		t.Errorf("a good config: %v", err)
	}
	loop := ok
	loop.JWKSURL = "http://127.0.0.1:8080/jwks"
	if err := loop.check(); err != nil {
		t.Errorf("plain http to loopback: %v", err)
	}
}

// A JWKS over TLS whose certificate the client does not trust is not fetched.
func TestJWKSCertificateChecked(t *testing.T) {
	k := mustRSA(t, "k")
	srv := jwttest.NewServer(true, k)
	defer srv.Close()
	cfg := testConfig(srv.JWKSURL())
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	p := newProvider(t, cfg)
	if _, err := p.Token(context.Background(), k.Sign(claims("alice", nil)), ""); err == nil || errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a JWKS with an untrusted certificate: %v", err)
	}
	if srv.Fetches() != 0 {
		t.Fatalf("the untrusted server served %d fetches", srv.Fetches())
	}
}
