package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeUsers(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileProvider(t *testing.T) {
	hash, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	tok, stored, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(writeUsers(t, `{"users": [{"name": "alice", "password": "`+hash+`", "tokens": ["`+stored+`"]}, {"name": "bob", "tokens": []}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if id, err := f.Password(ctx, "alice", "s3cret"); err != nil || id.User != "alice" {
		t.Fatalf("right password: %v %v", id, err)
	}
	for _, c := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"bob", "anything"}, {"nobody", "s3cret"}} {
		if _, err := f.Password(ctx, c[0], c[1]); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Password(%q, %q) = %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
	if id, err := f.Token(ctx, tok, "mallory"); err != nil || id.User != "alice" {
		t.Fatalf("token: %v %v (the claimed user must be ignored)", id, err)
	}
	if _, err := f.Token(ctx, tok+"x", "alice"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := f.Token(ctx, "", "alice"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("no token: %v", err)
	}
	if f.TrustsClients() || f.Mode() != "FILE" {
		t.Fatal("file provider must not trust clients")
	}
}

func TestNoneProvider(t *testing.T) {
	var n None
	if id, _ := n.Password(context.Background(), "carol", "x"); id.User != "carol" {
		t.Fatal(id)
	}
	if id, _ := n.Token(context.Background(), "", ""); id.User != "anonymous" {
		t.Fatal(id)
	}
}

func TestLoadFileErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"users": [{"name": ""}]}`:                                                                    "has no name",
		`{"users": [{"name": "a"}, {"name": "a"}]}`:                                                    "appears twice",
		`{"users": [{"name": "a", "password": "plain"}]}`:                                              "pbkdf2-sha256",
		`{"users": [{"name": "a", "password": "pbkdf2-sha256$5$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"}]}`: "iterations",
		`{"users": [{"name": "a", "tokens": ["abc"]}]}`:                                                "64 hex digits",
		`{"users": [{"name": "a", "role": "admin"}]}`:                                                  `unknown field "role"`,
	} {
		if _, err := LoadFile(writeUsers(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
	tok := "sha256:" + strings.Repeat("ab", 32)
	if _, err := LoadFile(writeUsers(t, `{"users": [{"name": "a", "tokens": ["`+tok+`"]}, {"name": "b", "tokens": ["`+tok+`"]}]}`)); err == nil || !strings.Contains(err.Error(), "share a token") {
		t.Errorf("shared token: %v", err)
	}
}

// stubProvider accepts one password or token, refuses the rest, or fails with err.
type stubProvider struct {
	mode, secret, user string
	err                error
}

func (s stubProvider) Password(_ context.Context, user, password string) (Identity, error) {
	return s.check(password)
}
func (s stubProvider) Token(_ context.Context, token, _ string) (Identity, error) {
	return s.check(token)
}
func (s stubProvider) check(secret string) (Identity, error) {
	if s.err != nil {
		return Identity{}, s.err
	}
	if secret != s.secret {
		return Identity{}, ErrBadCredentials
	}
	return Identity{User: s.user, Mechanism: s.mode}, nil
}
func (s stubProvider) TrustsClients() bool { return false }
func (s stubProvider) Mode() string        { return s.mode }

// A chain asks its providers in order; the first that accepts decides; a refusal by all is
// ErrBadCredentials, and an outage of one is reported rather than taken for a wrong password.
func TestChain(t *testing.T) {
	if _, err := NewChain(stubProvider{mode: "LDAP"}, None{}); err == nil {
		t.Fatal("NONE chained")
	}
	c, err := NewChain(stubProvider{mode: "LDAP", secret: "ldap-pw", user: "alice"}, stubProvider{mode: "FILE", secret: "file-pw", user: "alice2"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode() != "LDAP,FILE" || c.TrustsClients() {
		t.Fatalf("mode %s", c.Mode())
	}
	for secret, want := range map[string]string{"ldap-pw": "LDAP", "file-pw": "FILE"} {
		id, err := c.Password(context.Background(), "alice", secret)
		if err != nil || id.Mechanism != want {
			t.Errorf("%s: %+v, %v", secret, id, err)
		}
	}
	if _, err := c.Token(context.Background(), "nope", ""); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("refused by all: %v", err)
	}
	why := fmt.Errorf("user %q is not a member of an allowed LDAP group: %w", "carol", ErrBadCredentials)
	picky, _ := NewChain(stubProvider{mode: "FILE", secret: "file-pw"}, stubProvider{mode: "LDAP", err: why})
	if _, err := picky.Password(context.Background(), "carol", "x"); !errors.Is(err, ErrBadCredentials) || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("a refusal that says why was lost: %v", err)
	}
	down, _ := NewChain(stubProvider{mode: "LDAP", err: errors.New("connection refused")}, stubProvider{mode: "FILE", secret: "file-pw", user: "bob"})
	if id, err := down.Password(context.Background(), "bob", "file-pw"); err != nil || id.User != "bob" {
		t.Errorf("the next provider after an outage: %+v, %v", id, err)
	}
	if _, err := down.Password(context.Background(), "bob", "wrong"); err == nil || errors.Is(err, ErrBadCredentials) || !strings.Contains(err.Error(), "LDAP: connection refused") {
		t.Errorf("an outage taken for a wrong password: %v", err)
	}
}
