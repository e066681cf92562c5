package jwtauth

import (
	"context"
	"errors"
	"testing"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/auth/jwtauth/jwttest"
)

// FuzzToken feeds arbitrary bearer tokens to a provider whose JWKS holds one key: nothing
// panics, and the only tokens accepted are the ones that key signed, byte for byte (strict
// base64: no second spelling of a signature is accepted either).
func FuzzToken(f *testing.F) {
	key, err := jwttest.NewEC("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	srv := jwttest.NewServer(false, key)
	defer srv.Close()
	cfg := testConfig(srv.JWKSURL())
	cfg.MinRefreshInterval = 1 << 62 // one unknown-kid fetch in the whole run
	p, err := New(cfg, quiet())
	if err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	signed := map[string]bool{}
	for _, c := range []map[string]any{claims("alice", nil), claims("bob", set2("groups", "a,b")), claims("carol", set2("realm_access", map[string]any{"roles": []string{"x"}}))} {
		tok := key.Sign(c)
		signed[tok] = true
		f.Add(tok)
	}
	f.Add(jwttest.Unsigned("fuzz", claims("x", nil)))
	f.Add(key.HMACWithPublicKey(claims("x", nil)))
	f.Fuzz(func(t *testing.T, token string) {
		id, err := p.Token(context.Background(), token, "claimed")
		if err == nil && !signed[token] {
			t.Fatalf("accepted a token the key did not sign, as %+v", id)
		}
		if err != nil && !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("an error that is not a refusal with the JWKS up: %v", err)
		}
	})
}
