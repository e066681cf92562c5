package connectfront

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// A field this Spark version does not know (number 999, varint 7) must reach the engine.
func TestUnknownFieldsPassThrough(t *testing.T) {
	b := startBridge(t)
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 7)
	req := &connect.ConfigRequest{SessionId: uuid.NewString(), UserContext: &connect.UserContext{UserId: "alice"},
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Get{Get: &connect.ConfigRequest_Get{Keys: []string{"k"}}}}}
	req.ProtoReflect().SetUnknown(unknown)
	if _, err := b.client.Config(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := b.spark.LastConfigUnknown(); !bytes.Equal(got, unknown) {
		t.Fatalf("engine received unknown fields %x, want %x", got, unknown)
	}
}

func TestCloneSessionRegistersTheClone(t *testing.T) {
	b := startBridge(t)
	sid, newID := uuid.NewString(), uuid.NewString()
	uc := &connect.UserContext{UserId: "alice"}
	resp, err := b.client.CloneSession(context.Background(), &connect.CloneSessionRequest{SessionId: sid, UserContext: uc, NewSessionId: &newID})
	if err != nil {
		t.Fatal(err)
	}
	if resp.NewSessionId != newID {
		t.Fatalf("new session id %q", resp.NewSessionId)
	}
	// The clone belongs to alice: bob cannot use it, alice can.
	if _, err := getConf(context.Background(), b, newID, "bob", "k"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob on alice's clone: %v", err)
	}
	if _, err := getConf(context.Background(), b, newID, "alice", "k"); err != nil {
		t.Fatal(err)
	}
	// A clone onto an id in use is refused.
	if _, err := b.client.CloneSession(context.Background(), &connect.CloneSessionRequest{SessionId: sid, UserContext: uc, NewSessionId: &newID}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("clone onto a used id: %v", err)
	}
}

// selfSigned returns a server certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sparkbridge-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	cfg := DefaultConfig()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	b := startBridgeWith(t, cfg)
	conn, err := grpc.NewClient(b.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := connectgrpc.NewSparkConnectServiceClient(conn)
	if _, err := c.Config(context.Background(), &connect.ConfigRequest{SessionId: uuid.NewString(), UserContext: &connect.UserContext{UserId: "alice"},
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Get{Get: &connect.ConfigRequest_Get{Keys: []string{"k"}}}}}); err != nil {
		t.Fatalf("Config over TLS: %v", err)
	}
	// A plaintext client is refused.
	if _, err := getConf(context.Background(), b, uuid.NewString(), "alice", "k"); err == nil {
		t.Fatal("a plaintext client was served on the TLS port")
	}
}
