package connectfront

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/auth"
)

// passwords accepts "<user>-pw" for alice and bob, refuses carol with a reason, and counts
// the checks that reach it.
type passwords struct{ calls atomic.Int32 }

func (p *passwords) Password(_ context.Context, user, password string) (auth.Identity, error) {
	p.calls.Add(1)
	switch {
	case user == "carol" && password == "carol-pw":
		return auth.Identity{}, errors.Join(errors.New(`user "carol" is not a member of an allowed LDAP group (bi)`), auth.ErrBadCredentials)
	case (user == "alice" || user == "bob") && password == user+"-pw":
		return auth.Identity{User: user, Groups: []string{"bi"}, Mechanism: "LDAP"}, nil
	}
	return auth.Identity{}, auth.ErrBadCredentials
}
func (p *passwords) Token(context.Context, string, string) (auth.Identity, error) {
	return auth.Identity{}, auth.ErrBadCredentials
}
func (p *passwords) TrustsClients() bool { return false }
func (p *passwords) Mode() string        { return "LDAP" }

func withBasic(ctx context.Context, user, password string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

// TestBasicCredentials authenticates Spark Connect calls with HTTP Basic credentials checked
// by a password provider: the user they prove is the one the engine sees.
func TestBasicCredentials(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Auth = &passwords{}
	b := startBridgeWith(t, cfg)
	sid := uuid.NewString()
	if _, err := getConf(withBasic(context.Background(), "alice", "alice-pw"), b, sid, "root", "k"); err != nil {
		t.Fatal(err)
	}
	for _, u := range b.spark.Users() {
		if u != "sparkbridge" && u != "alice" {
			t.Fatalf("the engine saw user %q, want alice", u)
		}
	}
	_, err := getConf(withBasic(context.Background(), "alice", "wrong"), b, sid, "alice", "k")
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "invalid user name or password") {
		t.Fatalf("wrong password: %v", err)
	}
	_, err = getConf(withBasic(context.Background(), "carol", "carol-pw"), b, uuid.NewString(), "carol", "k")
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "not a member of an allowed LDAP group") {
		t.Fatalf("carol: %v, want the reason", err)
	}
	malformed := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic !!!")
	if _, err := getConf(malformed, b, sid, "alice", "k"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("malformed Basic: %v", err)
	}
	other := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Negotiate abc")
	if _, err := getConf(other, b, sid, "alice", "k"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("another scheme: %v", err)
	}
	// Bob's valid credentials on alice's session are denied, as with tokens.
	if _, err := getConf(withBasic(context.Background(), "bob", "bob-pw"), b, sid, "alice", "k"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob on alice's session: %v, want PermissionDenied", err)
	}
}

// TestBasicGoesThroughTheGuard: after a wrong password, the next Basic attempt from the same
// address waits in the guard's backoff (here an hour) and never reaches the provider.
func TestBasicGoesThroughTheGuard(t *testing.T) {
	p := &passwords{}
	l := logrus.New()
	l.SetOutput(io.Discard)
	cfg := DefaultConfig()
	cfg.Auth = auth.NewGuard(p, auth.GuardConfig{BackoffBase: time.Hour, BackoffMax: time.Hour, Workers: 1, LogInterval: time.Hour}, logrus.NewEntry(l))
	b := startBridgeWith(t, cfg)
	if _, err := getConf(withBasic(context.Background(), "alice", "wrong"), b, uuid.NewString(), "alice", "k"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong password: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := getConf(withBasic(ctx, "alice", "alice-pw"), b, uuid.NewString(), "alice", "k"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("the attempt after a failure: %v, want it held until the client gave up", err)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d checks reached the provider, want 1", n)
	}
}
