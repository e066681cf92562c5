package thriftfront

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// startBridgeEngine is startBridge with an engine layer configured by cfg.
func startBridgeEngine(t *testing.T, cfg engine.Config) *testBridge {
	t.Helper()
	spark := enginetest.Start(t)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	entry := logrus.NewEntry(log)
	cfg.Dial = engine.DialWith(transport.Dial)
	mgr := engine.NewManager(cfg, engine.Static{Addr: spark.Addr}, entry)
	h := NewHandler(DefaultConfig(), mgr, entry)
	srv := NewServer(DefaultConfig(), h, entry)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		srv.Close()
		h.Close()
		_ = mgr.Close(context.Background())
	})
	return &testBridge{addr: ln.Addr().String(), spark: spark, mgr: mgr}
}

// Every HS2 operation, metadata calls included, is in the engine layer's registry with its
// user, protocol, engine, state, statement and what it sent; metadata calls count against
// the per-session limit like statements (they used to bypass both).
func TestOperationsInTheEngineRegistry(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.MaxOperationsPerSession = 1
	b := startBridgeEngine(t, cfg)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)

	hang := execAsync(t, c, sh, "hang")
	ops := b.mgr.Operations(engine.Filter{User: "alice"})
	if len(ops) != 1 {
		t.Fatalf("%d operations registered, want 1: %+v", len(ops), ops)
	}
	op := ops[0]
	if op.Kind != engine.KindStatement || op.Statement != "hang" || op.Protocol != "thrift" || op.User != "alice" ||
		op.EngineID == "" || op.State != engine.OpRunning || op.Started.IsZero() {
		t.Fatalf("registered statement: %+v", op)
	}
	if got := b.mgr.Operations(engine.Filter{Protocol: "connect"}); len(got) != 0 {
		t.Fatalf("protocol filter: %+v", got)
	}

	// The session's one running operation is the hanging statement: a metadata call is
	// refused by the limit.
	tables, err := c.GetTypeInfo(context.Background(), &hiveserver.TGetTypeInfoReq{SessionHandle: sh})
	if err != nil {
		t.Fatal(err)
	}
	if tables.Status.StatusCode == hiveserver.TStatusCode_SUCCESS_STATUS || tables.Status.GetSqlState() != "53000" {
		t.Fatalf("GetTypeInfo beside a running statement with a limit of 1: %v %s", tables.Status.StatusCode, tables.Status.GetErrorMessage())
	}
	closeOp(t, c, hang)

	tables, err = c.GetTypeInfo(context.Background(), &hiveserver.TGetTypeInfoReq{SessionHandle: sh})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, tables.Status)
	ops = b.mgr.Operations(engine.Filter{User: "alice"})
	if len(ops) != 1 || ops[0].Kind != engine.KindMetadata || ops[0].Statement != "GET_TYPE_INFO" || ops[0].State != engine.OpFinished ||
		ops[0].Finished.IsZero() {
		t.Fatalf("registered metadata call: %+v", ops)
	}
	closeOp(t, c, tables.OperationHandle)
	if ops = b.mgr.Operations(engine.Filter{}); len(ops) != 0 {
		t.Fatalf("closed operations still registered: %+v", ops)
	}

	// Rows and bytes sent are counted as the client fetches.
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 2500"})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	ids, _ := fetchAll(t, c, resp.OperationHandle, 700)
	ops = b.mgr.Operations(engine.Filter{State: engine.OpFinished})
	if len(ids) != 2500 || len(ops) != 1 || ops[0].Rows != 2500 || ops[0].Bytes < 2500*8 {
		t.Fatalf("%d rows fetched; registry: %+v", len(ids), ops)
	}
	closeOp(t, c, resp.OperationHandle)
}

// An operation the engine layer's reaper expires is freed by the frontend: its handle is
// invalid afterwards, and the registry forgets it.
func TestExpiredOperationIsFreed(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.OperationIdleTimeout = 200 * time.Millisecond
	cfg.ReapInterval = 50 * time.Millisecond
	b := startBridgeEngine(t, cfg)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 5000"})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: resp.OperationHandle})
		if err != nil {
			t.Fatal(err)
		}
		if st.Status.StatusCode == hiveserver.TStatusCode_INVALID_HANDLE_STATUS {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle operation was never expired")
		}
		time.Sleep(300 * time.Millisecond) // longer than the idle timeout: a poll must not keep it alive forever
	}
	if ops := b.mgr.Operations(engine.Filter{}); len(ops) != 0 {
		t.Fatalf("expired operation still registered: %+v", ops)
	}
}

func closeOp(t *testing.T, c *hiveserver.TCLIServiceClient, op *hiveserver.TOperationHandle) {
	t.Helper()
	resp, err := c.CloseOperation(context.Background(), &hiveserver.TCloseOperationReq{OperationHandle: op})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
}
