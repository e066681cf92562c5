package connectfront

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// fileAuth returns a users-file provider with alice and bob and their tokens.
func fileAuth(t *testing.T) (p auth.Provider, aliceToken, bobToken string) {
	t.Helper()
	aliceToken, aliceStored, _ := auth.NewToken()
	bobToken, bobStored, _ := auth.NewToken()
	path := filepath.Join(t.TempDir(), "users.json")
	body := `{"users": [{"name": "alice", "tokens": ["` + aliceStored + `"]}, {"name": "bob", "tokens": ["` + bobStored + `"]}]}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f, aliceToken, bobToken
}

func withToken(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

func getConf(ctx context.Context, b *testBridge, sid, claimed string, keys ...string) (*connect.ConfigResponse, error) {
	return b.client.Config(ctx, &connect.ConfigRequest{SessionId: sid, UserContext: &connect.UserContext{UserId: claimed},
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Get{Get: &connect.ConfigRequest_Get{Keys: keys}}}})
}

func TestTokenAuthentication(t *testing.T) {
	cfg := DefaultConfig()
	var aliceTok, bobTok string
	cfg.Auth, aliceTok, bobTok = fileAuth(t)
	b := startBridgeWith(t, cfg)
	sid := uuid.NewString()

	if _, err := getConf(context.Background(), b, sid, "alice", "k"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v, want Unauthenticated", err)
	}
	if _, err := getConf(withToken("wrong"), b, sid, "alice", "k"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token: %v, want Unauthenticated", err)
	}
	bad := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic YWxpY2U6eA==")
	if _, err := getConf(bad, b, sid, "alice", "k"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("basic auth: %v, want Unauthenticated", err)
	}
	// Alice's token, claiming to be "root": the engine sees alice.
	if _, err := getConf(withToken(aliceTok), b, sid, "root", "k"); err != nil {
		t.Fatal(err)
	}
	// The bridge's own calls (asking a new engine its application id) run as "sparkbridge";
	// every client call ran as alice, never as the claimed root.
	var clients []string
	for _, u := range b.spark.Users() {
		if u != "sparkbridge" {
			clients = append(clients, u)
		}
	}
	if !slices.Equal(clients, []string{"alice"}) {
		t.Fatalf("engine saw client users %v, want the authenticated alice", clients)
	}
	// Bob presenting alice's session id is denied.
	if _, err := getConf(withToken(bobTok), b, sid, "alice", "k"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob on alice's session: %v, want PermissionDenied", err)
	}
}

func TestProtectedConf(t *testing.T) {
	b := startBridge(t)
	ctx := context.Background()
	sid := uuid.NewString()
	uc := &connect.UserContext{UserId: "alice"}
	resp, err := getConf(ctx, b, sid, "alice", "spark.connect.authenticate.token", "spark.hadoop.fs.s3a.secret.key", "spark.app.name")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{redacted, redacted, "v-spark.app.name"}
	for i, kv := range resp.Pairs {
		if kv.GetValue() != want[i] {
			t.Errorf("%s = %q, want %q", kv.GetKey(), kv.GetValue(), want[i])
		}
	}
	all, err := b.client.Config(ctx, &connect.ConfigRequest{SessionId: sid, UserContext: uc,
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_GetAll{GetAll: &connect.ConfigRequest_GetAll{}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range all.Pairs {
		if kv.GetKey() == "spark.connect.authenticate.token" && kv.GetValue() != redacted {
			t.Fatalf("GetAll leaked the engine secret: %q", kv.GetValue())
		}
	}
	v := "x"
	_, err = b.client.Config(ctx, &connect.ConfigRequest{SessionId: sid, UserContext: uc,
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Set{Set: &connect.ConfigRequest_Set{Pairs: []*connect.KeyValue{{Key: "spark.connect.authenticate.token", Value: &v}}}}}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("setting the engine secret: %v, want PermissionDenied", err)
	}
	_, err = b.client.Config(ctx, &connect.ConfigRequest{SessionId: sid, UserContext: uc,
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Unset{Unset: &connect.ConfigRequest_Unset{Keys: []string{"my.db.password"}}}}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("unsetting a password key: %v, want PermissionDenied", err)
	}

	// A silent Set (PySpark's builder options) keeps its other pairs, as Spark does with a key
	// it cannot set, and warns about each dropped one.
	yes, one, two := true, "1", "2"
	resp, err = b.client.Config(ctx, &connect.ConfigRequest{SessionId: sid, UserContext: uc,
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Set{Set: &connect.ConfigRequest_Set{Silent: &yes,
			Pairs: []*connect.KeyValue{{Key: "spark.sql.shuffle.partitions", Value: &one}, {Key: "spark.connect.authenticate.token", Value: &v}, {Key: "my.app.option", Value: &two}}}}}})
	if err != nil {
		t.Fatalf("a silent Set with a protected key: %v", err)
	}
	sets := b.spark.Sets()
	if sets["spark.sql.shuffle.partitions"] != "1" || sets["my.app.option"] != "2" {
		t.Errorf("the engine got %v, want the two unprotected pairs", sets)
	}
	if _, ok := sets["spark.connect.authenticate.token"]; ok {
		t.Error("a silent Set passed the engine secret on")
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], `"spark.connect.authenticate.token"`) {
		t.Errorf("warnings %q, want one naming the dropped key", resp.Warnings)
	}
}
