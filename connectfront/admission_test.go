package connectfront

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// tokenAuth accepts token "tok-USER" as USER, and counts the checks it was asked for.
type tokenAuth struct{ checks atomic.Int32 }

func (p *tokenAuth) Password(context.Context, string, string) (auth.Identity, error) {
	p.checks.Add(1)
	return auth.Identity{}, auth.ErrBadCredentials
}
func (p *tokenAuth) Token(_ context.Context, token, _ string) (auth.Identity, error) {
	p.checks.Add(1)
	user, ok := strings.CutPrefix(token, "tok-")
	if !ok {
		return auth.Identity{}, auth.ErrBadCredentials
	}
	return auth.Identity{User: user, Mechanism: "TEST"}, nil
}
func (p *tokenAuth) TrustsClients() bool { return false }
func (p *tokenAuth) Mode() string        { return "TEST" }

func admissionBridge(t *testing.T, cfg auth.AdmissionConfig) (*testBridge, *tokenAuth, *auth.Admission) {
	t.Helper()
	a, err := auth.NewAdmission(cfg, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	p := &tokenAuth{}
	fcfg := DefaultConfig()
	fcfg.Auth, fcfg.Admission = p, a
	return startBridgeWith(t, fcfg), p, a
}

// newConn is a second client connection to b.
func newConn(t *testing.T, b *testBridge) (connectgrpc.SparkConnectServiceClient, *grpc.ClientConn) {
	t.Helper()
	conn, err := grpc.NewClient(b.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return connectgrpc.NewSparkConnectServiceClient(conn), conn
}

// A connection from a denied address is answered PERMISSION_DENIED, with the reason, before
// its token is looked at.
func TestDeniedAddressBeforeTheToken(t *testing.T) {
	b, p, _ := admissionBridge(t, auth.AdmissionConfig{DenyAddresses: []string{"127.0.0.1"}})
	_, err := getConf(withToken("tok-alice"), b, uuid.NewString(), "alice", "k")
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != "sparkbridge: connections from 127.0.0.1 are not allowed" {
		t.Fatalf("from a denied address: %v", err)
	}
	if n := p.checks.Load(); n != 0 {
		t.Fatalf("the provider checked %d tokens from a denied address", n)
	}
}

// A denied user is refused after authentication with PERMISSION_DENIED.
func TestDeniedUserAfterTheToken(t *testing.T) {
	b, _, _ := admissionBridge(t, auth.AdmissionConfig{DenyUsers: []string{"mallory"}})
	_, err := getConf(withToken("tok-mallory"), b, uuid.NewString(), "mallory", "k")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "user mallory is not allowed to connect") {
		t.Fatalf("mallory: %v", err)
	}
	if _, err := getConf(withToken("tok-alice"), b, uuid.NewString(), "alice", "k"); err != nil {
		t.Fatalf("alice: %v", err)
	}
}

// The per-user cap counts gRPC connections: any number of calls on one connection count
// once, a second connection of the user is RESOURCE_EXHAUSTED with the reason, another user
// may use it, and the first connection's end makes room.
func TestUserCapCountsConnections(t *testing.T) {
	b, _, a := admissionBridge(t, auth.AdmissionConfig{MaxPerUser: 1})
	c1, conn1 := newConn(t, b)
	first := &testBridge{client: c1}
	sid := uuid.NewString()
	for i := 0; i < 3; i++ {
		if _, err := getConf(withToken("tok-alice"), first, sid, "alice", "k"); err != nil {
			t.Fatalf("call %d on the first connection: %v", i, err)
		}
	}
	c2, _ := newConn(t, b)
	second := &testBridge{client: c2}
	_, err := getConf(withToken("tok-alice"), second, uuid.NewString(), "alice", "k")
	if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "sparkbridge: user alice already has 1 open connection, the most one user may have; close one and try again" {
		t.Fatalf("alice on a second connection: %v", err)
	}
	if _, err := getConf(withToken("tok-bob"), second, uuid.NewString(), "bob", "k"); err != nil {
		t.Fatalf("bob on the second connection: %v", err)
	}
	// The first connection ends (a client that goes away): alice may use the second.
	conn1.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, _, _ := a.Counts("alice", ""); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice's closed connection is still counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := getConf(withToken("tok-alice"), second, sid, "alice", "k"); err != nil {
		t.Fatalf("alice on the second connection after the first closed: %v", err)
	}
	if n, _, _ := a.Counts("alice", ""); n != 1 {
		t.Fatalf("alice counted %d times", n)
	}
}

// The address cap applies when the connection starts: calls on the connection over it are
// RESOURCE_EXHAUSTED before their token is looked at.
func TestAddressCapBeforeTheToken(t *testing.T) {
	b, p, _ := admissionBridge(t, auth.AdmissionConfig{MaxPerAddress: 1})
	if _, err := getConf(withToken("tok-alice"), b, uuid.NewString(), "alice", "k"); err != nil {
		t.Fatal(err)
	}
	c2, _ := newConn(t, b)
	_, err := getConf(withToken("tok-bob"), &testBridge{client: c2}, uuid.NewString(), "bob", "k")
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "127.0.0.1 already has 1 open connection, the most one client address may have") {
		t.Fatalf("a second connection from one address: %v", err)
	}
	if n := p.checks.Load(); n != 1 {
		t.Fatalf("the provider checked %d tokens, want 1", n)
	}
}
