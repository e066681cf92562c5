package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/auth/jwtauth/jwttest"
)

// -auth JWT,FILE builds a chain whose JWT mode takes its settings from the flags over the
// config file's "jwt" object, trusts the JWKS server through -jwt-jwks-ca-file, and is
// stopped by closeAuth.
func TestAuthProviderJWT(t *testing.T) {
	key, err := jwttest.NewEC("k1")
	if err != nil {
		t.Fatal(err)
	}
	srv := jwttest.NewServer(true, key)
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	var fc fileConfig
	if err := json.Unmarshal([]byte(`{"jwt": {"jwks_url": "`+srv.JWKSURL()+`", "jwks_ca_file": "`+ca+`", "issuer": "https://idp",
		"audience": "from-file", "algorithms": ["ES256"], "leeway": "5s", "user_claim": "preferred_username", "groups_claim": "groups",
		"jwks_refresh": "1h", "jwks_min_refresh": "2m"}}`), &fc); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o := jwtFlags(fs)
	fc.JWT.apply(o)
	if err := fs.Parse([]string{"-jwt-audience", "bridge"}); err != nil { // the command line wins
		t.Fatal(err)
	}
	if o.cfg.Leeway != 5*time.Second || o.cfg.RefreshInterval != time.Hour || o.cfg.MinRefreshInterval != 2*time.Minute || o.algorithms != "ES256" {
		t.Fatalf("the file's settings did not apply: %+v %s", o.cfg, o.algorithms)
	}
	users := writeConfig(t, `{"users": []}`)
	p, err := authProvider("JWT,FILE", authOptions{usersFile: users, jwt: o})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAuth(p)
	if p.Mode() != "JWT,FILE" {
		t.Fatalf("mode %s", p.Mode())
	}
	now := time.Now()
	claims := map[string]any{"iss": "https://idp", "aud": "bridge", "sub": "u-123", "preferred_username": "alice", "groups": []string{"bi"},
		"exp": now.Add(time.Hour).Unix()}
	id, err := p.Token(context.Background(), key.Sign(claims), "")
	if err != nil || id.User != "alice" || len(id.Groups) != 1 || id.Groups[0] != "bi" || id.Mechanism != "JWT" {
		t.Fatalf("a token through -auth JWT,FILE: %+v, %v", id, err)
	}
	claims["aud"] = "from-file"
	if _, err := p.Token(context.Background(), key.Sign(claims), ""); err != auth.ErrBadCredentials {
		t.Fatalf("a token for the audience the command line replaced: %v", err)
	}

	if _, err := authProvider("FILE", authOptions{usersFile: users, jwt: o}); err == nil || !strings.Contains(err.Error(), "does not include JWT") {
		t.Fatalf("-jwt-* settings without -auth JWT: %v", err)
	}
	o.algorithms = "RS256,HS256"
	if _, err := authProvider("JWT", authOptions{jwt: o}); err == nil || !strings.Contains(err.Error(), "HS256") {
		t.Fatalf("-jwt-algorithms with HS256: %v", err)
	}
	empty := jwtFlags(flag.NewFlagSet("empty", flag.ContinueOnError))
	if _, err := authProvider("JWT", authOptions{jwt: empty}); err == nil || !strings.Contains(err.Error(), "-jwt-jwks-url") {
		t.Fatalf("-auth JWT without a JWKS: %v", err)
	}
}
