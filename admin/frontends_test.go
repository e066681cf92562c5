package admin

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// bridge is both frontends over one engine layer and a fake engine, with the admin API; the
// test (not the admin package) joins them, as cmd/sparkbridge does.
type bridge struct {
	mgr     *engine.Manager
	admin   http.Handler
	hs2     *hiveserver.TCLIServiceClient
	connect connectgrpc.SparkConnectServiceClient
}

func startFrontends(t *testing.T) *bridge {
	t.Helper()
	spark := enginetest.Start(t)
	log := quietLog()
	cfg := engine.DefaultConfig()
	cfg.Dial = engine.DialWith(transport.Dial)
	cfg.StartTimeout = 5 * time.Second
	mgr := engine.NewManager(cfg, engine.Static{Addr: spark.Addr}, log)

	h := thriftfront.NewHandler(thriftfront.DefaultConfig(), mgr, log)
	tsrv := thriftfront.NewServer(thriftfront.DefaultConfig(), h, log)
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = tsrv.Serve(tln) }()
	csrv := connectfront.New(connectfront.DefaultConfig(), mgr, log)
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = csrv.Serve(cln) }()
	conn, err := grpc.NewClient(cln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	sock := thrift.NewTSocketConf(tln.Addr().String(), &thrift.TConfiguration{ConnectTimeout: 5 * time.Second})
	if err := sock.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sock.Close()
		conn.Close()
		tln.Close()
		tsrv.Close()
		h.Close()
		csrv.Stop()
		_ = mgr.Close(context.Background())
	})
	return &bridge{
		mgr:     mgr,
		admin:   newTestServer(t, DefaultConfig(), mgr).Handler(),
		hs2:     hiveserver.NewTCLIServiceClientFactory(thrift.NewTBufferedTransport(sock, 64<<10), thrift.NewTBinaryProtocolFactoryConf(nil)),
		connect: connectgrpc.NewSparkConnectServiceClient(conn),
	}
}

// hs2Hang opens an HS2 session for user and runs a statement that never ends, async.
func (b *bridge) hs2Hang(t *testing.T, user string) (*hiveserver.TSessionHandle, *hiveserver.TOperationHandle) {
	t.Helper()
	ctx := context.Background()
	open, err := b.hs2.OpenSession(ctx, &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user})
	if err != nil || open.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("OpenSession: %v %v", err, open)
	}
	exec, err := b.hs2.ExecuteStatement(ctx, &hiveserver.TExecuteStatementReq{SessionHandle: open.SessionHandle, Statement: "hang", RunAsync: true})
	if err != nil || exec.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("ExecuteStatement: %v %v", err, exec)
	}
	return open.SessionHandle, exec.OperationHandle
}

// connectHang starts a Spark Connect execution for user that sends rows and then hangs, and
// returns once the rows arrived.
func (b *bridge) connectHang(t *testing.T, user string) (string, grpc.ServerStreamingClient[connect.ExecutePlanResponse]) {
	t.Helper()
	sid := uuid.NewString()
	plan := &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Sql{Sql: &connect.SQL{Query: "rows 5 hang"}}}}}
	stream, err := b.connect.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{SessionId: sid, UserContext: &connect.UserContext{UserId: user}, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	return sid, stream
}

// operationOf lists the operations of user through the API and returns the one.
func (b *bridge) operationOf(t *testing.T, user, protocol string) map[string]any {
	t.Helper()
	code, body := call(t, b.admin, http.MethodGet, "/api/v1/operations?user="+user)
	ops, _ := body["operations"].([]any)
	if code != http.StatusOK || len(ops) != 1 {
		t.Fatalf("operations of %s: %d %v", user, code, body)
	}
	op := ops[0].(map[string]any)
	if op["protocol"] != protocol || op["user"] != user || op["state"] != "RUNNING" {
		t.Fatalf("operation of %s: %v", user, op)
	}
	return op
}

// DELETE /api/v1/operations/{id} through the real frontends: the HS2 client polling its
// statement reads CANCELED_STATE, and the Spark Connect client's stream ends CANCELLED.
func TestDeleteOperationCancelsItForTheClient(t *testing.T) {
	b := startFrontends(t)
	_, hop := b.hs2Hang(t, "alice")
	_, stream := b.connectHang(t, "bob")
	aop := b.operationOf(t, "alice", "thrift")
	bop := b.operationOf(t, "bob", "connect")

	if code, body := call(t, b.admin, http.MethodDelete, "/api/v1/operations/"+aop["id"].(string)); code != http.StatusOK {
		t.Fatalf("DELETE HS2 operation: %d %v", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := b.hs2.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: hop})
		if err != nil {
			t.Fatal(err)
		}
		if st.GetOperationState() == hiveserver.TOperationState_CANCELED_STATE {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HS2 client reads %v, never CANCELED_STATE", st.GetOperationState())
		}
		time.Sleep(20 * time.Millisecond)
	}

	if code, body := call(t, b.admin, http.MethodDelete, "/api/v1/operations/"+bop["id"].(string)); code != http.StatusOK {
		t.Fatalf("DELETE Connect operation: %d %v", code, body)
	}
	var err error
	for err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Canceled || !strings.Contains(err.Error(), "OPERATION_CANCELED") {
		t.Fatalf("the Connect client's stream ended with %v", err)
	}
	_, body := call(t, b.admin, http.MethodGet, "/api/v1/operations?user=alice&state=CANCELED")
	if ops := body["operations"].([]any); len(ops) != 1 {
		t.Fatalf("the cancelled HS2 operation is not listed CANCELED: %v", body)
	}
}

// DELETE /api/v1/sessions/{id} through the real frontends: the HS2 client's next call hears
// the session was closed by an administrator; the Spark Connect session's execution ends.
func TestDeleteSessionClosesItForTheClient(t *testing.T) {
	b := startFrontends(t)
	sh, _ := b.hs2Hang(t, "alice")
	sid, stream := b.connectHang(t, "bob")
	_, body := call(t, b.admin, http.MethodGet, "/api/v1/sessions?user=alice")
	ss := body["sessions"].([]any)
	if len(ss) != 1 || ss[0].(map[string]any)["protocol"] != "thrift" || len(ss[0].(map[string]any)["operations"].([]any)) != 1 {
		t.Fatalf("alice's sessions: %v", body)
	}
	aid := ss[0].(map[string]any)["id"].(string)
	for _, id := range []string{aid, sid} {
		if code, body := call(t, b.admin, http.MethodDelete, "/api/v1/sessions/"+id); code != http.StatusOK {
			t.Fatalf("DELETE session %s: %d %v", id, code, body)
		}
	}
	resp, err := b.hs2.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.StatusCode == hiveserver.TStatusCode_SUCCESS_STATUS || !strings.Contains(resp.Status.GetErrorMessage(), "closed by an administrator") {
		t.Fatalf("a statement on the closed HS2 session: %v %q", resp.Status.StatusCode, resp.Status.GetErrorMessage())
	}
	for err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Canceled {
		t.Fatalf("the closed Connect session's execution ended with %v", err)
	}
	if _, body := call(t, b.admin, http.MethodGet, "/api/v1/sessions"); len(body["sessions"].([]any)) != 0 {
		t.Fatalf("closed sessions still listed: %v", body)
	}
}

// A statement that fails through either frontend is listed in /api/v1/failures with the
// message its client read, after its client has closed it.
func TestFailuresThroughTheFrontends(t *testing.T) {
	b := startFrontends(t)
	ctx := context.Background()
	user := "carol"
	open, err := b.hs2.OpenSession(ctx, &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user})
	if err != nil || open.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("OpenSession: %v %v", err, open)
	}
	exec, err := b.hs2.ExecuteStatement(ctx, &hiveserver.TExecuteStatementReq{SessionHandle: open.SessionHandle, Statement: "fail 42P01"})
	if err != nil || exec.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS {
		t.Fatalf("ExecuteStatement of a failing statement: %v %v", err, exec)
	}
	hs2Msg := exec.Status.GetErrorMessage()
	plan := &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Sql{Sql: &connect.SQL{Query: "fail 22012"}}}}}
	stream, err := b.connect.ExecutePlan(ctx, &connect.ExecutePlanRequest{SessionId: uuid.NewString(), UserContext: &connect.UserContext{UserId: user}, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = stream.Recv()
	}
	connectMsg := status.Convert(err).Message()

	code, body := call(t, b.admin, http.MethodGet, "/api/v1/failures?user="+user)
	fs, _ := body["failures"].([]any)
	if code != http.StatusOK || len(fs) != 2 {
		t.Fatalf("failures of %s: %d %v", user, code, body)
	}
	// Newest first: the Spark Connect one.
	for i, want := range []struct{ protocol, statement, msg string }{{"connect", "fail 22012", connectMsg}, {"thrift", "fail 42P01", hs2Msg}} {
		f := fs[i].(map[string]any)
		if f["protocol"] != want.protocol || !strings.Contains(f["statement"].(string), want.statement) || f["error"] != want.msg ||
			!strings.Contains(want.msg, "FAKE_ERROR") || f["user"] != user || f["failed"] == "" {
			t.Errorf("failure %d = %v, want %s %q with the client's message %q", i, f, want.protocol, want.statement, want.msg)
		}
	}
}
