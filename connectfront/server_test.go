package connectfront

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

type testBridge struct {
	addr   string
	client connectgrpc.SparkConnectServiceClient
	mgr    *engine.Manager
	logs   *bytes.Buffer
	spark  *enginetest.Spark
}

func startBridge(t testing.TB) *testBridge {
	t.Helper()
	return startBridgeWith(t, DefaultConfig())
}

func startBridgeWith(t testing.TB, fcfg Config) *testBridge {
	t.Helper()
	spark := enginetest.Start(t)
	logs := &bytes.Buffer{}
	log := logrus.New()
	log.SetOutput(&lockedWriter{w: logs})
	entry := logrus.NewEntry(log)
	cfg := engine.DefaultConfig()
	cfg.Dial = engine.DialWith(transport.Dial)
	cfg.StartTimeout = 5 * time.Second
	mgr := engine.NewManager(cfg, engine.Static{Addr: spark.Addr}, entry)
	srv := New(fcfg, mgr, entry)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		_ = mgr.Close(context.Background())
	})
	return &testBridge{addr: ln.Addr().String(), client: connectgrpc.NewSparkConnectServiceClient(conn), mgr: mgr, logs: logs, spark: spark}
}

func sqlPlan(q string) *connect.Plan {
	return &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Sql{Sql: &connect.SQL{Query: q}}}}}
}

func TestExecutePlanStreamsEveryBatch(t *testing.T) {
	b := startBridge(t)
	sid := uuid.NewString()
	stream, err := b.client.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{
		SessionId: sid, UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan("rows 3500")})
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	batches := 0
	complete := false
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ab := resp.GetArrowBatch(); ab != nil {
			r, err := ipc.NewReader(bytes.NewReader(ab.Data))
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				rows += r.RecordBatch().NumRows()
			}
			r.Release()
			batches++
		}
		if resp.GetResultComplete() != nil {
			complete = true
		}
	}
	if rows != 3500 || batches != 4 || !complete {
		t.Fatalf("got %d rows in %d batches (complete %v), want 3500 in 4 and a ResultComplete", rows, batches, complete)
	}
	s := b.mgr.Sessions(engine.Filter{})
	if len(s) != 1 || s[0].ID != sid || s[0].User != "alice" || s[0].Protocol != "connect" {
		t.Fatalf("sessions = %+v", s)
	}
}

func TestEngineErrorsPassThrough(t *testing.T) {
	b := startBridge(t)
	stream, err := b.client.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{
		SessionId: uuid.NewString(), UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan("fail 42703")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code %v, want InvalidArgument: %v", st.Code(), err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.Metadata["sqlState"] != "42703" || info.Metadata["errorClass"] != "FAKE_ERROR" {
		t.Fatalf("ErrorInfo = %v", info)
	}
}

func TestConfigAndReleaseSession(t *testing.T) {
	b := startBridge(t)
	sid := uuid.NewString()
	uc := &connect.UserContext{UserId: "alice"}
	resp, err := b.client.Config(context.Background(), &connect.ConfigRequest{SessionId: sid, UserContext: uc,
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Get{Get: &connect.ConfigRequest_Get{Keys: []string{"spark.sql.ansi.enabled"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Pairs) != 1 || resp.Pairs[0].GetValue() != "v-spark.sql.ansi.enabled" {
		t.Fatalf("pairs = %v", resp.Pairs)
	}
	if _, err := b.client.ReleaseSession(context.Background(), &connect.ReleaseSessionRequest{SessionId: sid, UserContext: uc}); err != nil {
		t.Fatal(err)
	}
	if n := len(b.mgr.Sessions(engine.Filter{})); n != 0 {
		t.Fatalf("%d sessions after ReleaseSession", n)
	}
}

func TestSessionOfAnotherUserIsDenied(t *testing.T) {
	b := startBridge(t)
	sid := uuid.NewString()
	get := func(user string) error {
		_, err := b.client.Config(context.Background(), &connect.ConfigRequest{SessionId: sid, UserContext: &connect.UserContext{UserId: user},
			Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Get{Get: &connect.ConfigRequest_Get{Keys: []string{"k"}}}}})
		return err
	}
	if err := get("alice"); err != nil {
		t.Fatal(err)
	}
	if err := get("bob"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob using alice's session: %v, want PermissionDenied", err)
	}
	_, err := b.client.Config(context.Background(), &connect.ConfigRequest{SessionId: "not-a-uuid", UserContext: &connect.UserContext{UserId: "alice"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("malformed session id: %v, want InvalidArgument", err)
	}
}

func TestNonGRPCClientIsLoggedAndDropped(t *testing.T) {
	b := startBridge(t)
	c, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logText(b), "instead of the HTTP/2 preface") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the dropped connection; logs:\n%s", logText(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The server still serves gRPC clients.
	if _, err := b.client.Config(context.Background(), &connect.ConfigRequest{SessionId: uuid.NewString(), UserContext: &connect.UserContext{UserId: "alice"},
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Get{Get: &connect.ConfigRequest_Get{Keys: []string{"k"}}}}}); err != nil {
		t.Fatal(err)
	}
}

// Every execution is in the engine layer's registry while it runs, with its plan summary,
// user, protocol and engine, and the rows and bytes relayed (read from the frames without
// decoding them); it leaves the registry when the call ends, unless its stream ended before
// the ResultComplete (a reattachable execution), which stays for its reattach.
func TestExecutionsInTheEngineRegistry(t *testing.T) {
	b := startBridge(t)
	sid := uuid.NewString()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readRows := func(stream grpc.ServerStreamingClient[connect.ExecutePlanResponse], want int64) string {
		t.Helper()
		var rows int64
		id := ""
		for rows < want {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("after %d rows: %v", rows, err)
			}
			id = resp.GetOperationId()
			rows += resp.GetArrowBatch().GetRowCount()
		}
		return id
	}
	stream, err := b.client.ExecutePlan(ctx, &connect.ExecutePlanRequest{
		SessionId: sid, UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan("rows 3500 hang")})
	if err != nil {
		t.Fatal(err)
	}
	id := readRows(stream, 3500)
	ops := b.mgr.Operations(engine.Filter{Protocol: "connect"})
	if len(ops) != 1 {
		t.Fatalf("registry: %+v", ops)
	}
	op := ops[0]
	if id == "" || op.ID != id || op.Kind != engine.KindExecute || op.Statement != "rows 3500 hang" || op.User != "alice" ||
		op.SessionID != sid || op.EngineID == "" || op.State != engine.OpRunning || op.Rows != 3500 || op.Bytes < 3500*8 {
		t.Fatalf("registered execution (operation id %q): %+v", id, op)
	}
	cancel()
	waitRegistry(t, b, 0)

	// Spark sends no ResultComplete to an execution that is not reattachable: its stream's
	// clean end is its end, and it leaves the registry.
	stream, err = b.client.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{
		SessionId: sid, UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan("rows 10 cut")})
	if err != nil {
		t.Fatal(err)
	}
	readRows(stream, 10)
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("end of a non-reattachable stream: %v", err)
	}
	waitRegistry(t, b, 0)

	// A reattachable execution whose stream ends before its ResultComplete stays registered,
	// running, until the reattach ends it (this fake engine refuses reattaches).
	stream, err = b.client.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{
		SessionId: sid, UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan("rows 1500 cut"),
		RequestOptions: []*connect.ExecutePlanRequest_RequestOption{{RequestOption: &connect.ExecutePlanRequest_RequestOption_ReattachOptions{
			ReattachOptions: &connect.ReattachOptions{Reattachable: true}}}}})
	if err != nil {
		t.Fatal(err)
	}
	id = readRows(stream, 1500)
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("end of a cut stream: %v", err)
	}
	if ops = b.mgr.Operations(engine.Filter{}); len(ops) != 1 || ops[0].ID != id || ops[0].State != engine.OpRunning || ops[0].Rows != 1500 {
		t.Fatalf("an execution cut short is not registered as running: %+v", ops)
	}
	re, err := b.client.ReattachExecute(context.Background(), &connect.ReattachExecuteRequest{
		SessionId: sid, UserContext: &connect.UserContext{UserId: "alice"}, OperationId: id})
	if err == nil {
		_, err = re.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("reattach: %v", err)
	}
	waitRegistry(t, b, 0)
}

// waitRegistry waits, bounded, until the bridge's registry holds n operations.
func waitRegistry(t *testing.T, b *testBridge, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(b.mgr.Operations(engine.Filter{})) != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("registry: %+v, want %d operations", b.mgr.Operations(engine.Filter{}), n)
		}
	}
}
