package thriftfront

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// startBridgeWith is startBridge with a handler configuration of the test's.
func startBridgeWith(t *testing.T, cfg Config) (*testBridge, *Handler) {
	t.Helper()
	spark, mgr, entry := newFakeEngine(t)
	mem := checkedAllocator(cfg.Allocator)
	cfg.Allocator = mem
	h := NewHandler(cfg, mgr, entry)
	srv := NewServer(cfg, h, entry)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		srv.Close()
		h.Close()
		mem.AssertSize(t, 0)
	})
	return &testBridge{addr: ln.Addr().String(), spark: spark, mgr: mgr}, h
}

// openWithConf opens a V10 session with an OpenSession configuration.
func openWithConf(t *testing.T, c *hiveserver.TCLIServiceClient, conf map[string]string) *hiveserver.TSessionHandle {
	t.Helper()
	user := "alice"
	resp, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user, Configuration: conf})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	return resp.SessionHandle
}

func execAsync(t *testing.T, c *hiveserver.TCLIServiceClient, sh *hiveserver.TSessionHandle, stmt string) *hiveserver.TOperationHandle {
	t.Helper()
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: stmt, RunAsync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	return resp.OperationHandle
}

func pollState(t *testing.T, c *hiveserver.TCLIServiceClient, op *hiveserver.TOperationHandle) hiveserver.TOperationState {
	t.Helper()
	st, err := c.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: op})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, st.Status)
	return st.GetOperationState()
}

// A statement that ends shortly after ExecuteStatement returns reads FINISHED on the first
// poll, as on HiveServer2; with long polling off it reads RUNNING.
func TestLongPollingAnswersFinishedOnFirstPoll(t *testing.T) {
	for _, c := range []struct {
		timeout time.Duration
		want    hiveserver.TOperationState
	}{{DefaultConfig().LongPollingTimeout, hiveserver.TOperationState_FINISHED_STATE}, {0, hiveserver.TOperationState_RUNNING_STATE}} {
		cfg := DefaultConfig()
		cfg.LongPollingTimeout = c.timeout
		b, _ := startBridgeWith(t, cfg)
		cl := b.noSASLClient(t)
		sh := openWithConf(t, cl, nil)
		op := execAsync(t, cl, sh, "sleep 300ms")
		if got := pollState(t, cl, op); got != c.want {
			t.Errorf("long polling %s: first poll read %v, want %v", c.timeout, got, c.want)
		}
		// PyHive (so dbt and Superset) asks for progress on every poll: a young operation is
		// waited for all the same.
		op = execAsync(t, cl, sh, "sleep 300ms")
		yes := true
		st, err := cl.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: op, GetProgressUpdate: &yes})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.GetOperationState(); got != c.want {
			t.Errorf("long polling %s with progress: first poll read %v, want %v", c.timeout, got, c.want)
		}
	}
}

// A session's hive.server2.long.polling.timeout wins over the server's, and a wait ends as
// soon as the operation is cancelled; another connection's calls go on meanwhile.
func TestLongPollingEndsOnCancelAndBlocksNoOne(t *testing.T) {
	b, _ := startBridgeWith(t, DefaultConfig())
	c1, c2 := b.noSASLClient(t), b.noSASLClient(t)
	// An hour: a poll that returns did not time out.
	sh := openWithConf(t, c1, map[string]string{"set:hiveconf:" + longPollingKey: "1h"})
	op := execAsync(t, c2, sh, "hang")
	polled := make(chan hiveserver.TOperationState, 1)
	go func() {
		st, err := c1.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: op})
		if err != nil || st.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
			polled <- -1
			return
		}
		polled <- st.GetOperationState()
	}()
	// While that poll waits, the same session runs and fetches a statement, and reads status.
	other := execAsync(t, c2, sh, "rows 3")
	if got := pollState(t, c2, other); got != hiveserver.TOperationState_FINISHED_STATE {
		t.Fatalf("second statement: %v", got)
	}
	if ids, _ := fetchAll(t, c2, other, 10); len(ids) != 3 {
		t.Fatalf("second statement fetched %v", ids)
	}
	select {
	case st := <-polled:
		t.Fatalf("the waiting poll returned %v before the operation ended", st)
	default:
	}
	cancel, err := c2.CancelOperation(context.Background(), &hiveserver.TCancelOperationReq{OperationHandle: op})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, cancel.Status)
	if st := <-polled; st != hiveserver.TOperationState_CANCELED_STATE {
		t.Fatalf("the waiting poll read %v after the cancel, want CANCELED", st)
	}
}

// Shutdown ends every wait at once.
func TestStopWaitingEndsLongPolls(t *testing.T) {
	b, h := startBridgeWith(t, DefaultConfig())
	c := b.noSASLClient(t)
	sh := openWithConf(t, c, map[string]string{longPollingKey: "1h"})
	op := execAsync(t, c, sh, "hang")
	polled := make(chan hiveserver.TOperationState, 1)
	go func() { polled <- pollState(t, c, op) }()
	h.StopWaiting()
	if st := <-polled; st != hiveserver.TOperationState_RUNNING_STATE {
		t.Fatalf("poll read %v, want RUNNING", st)
	}
	// Later polls answer at once too.
	if st := pollState(t, c, op); st != hiveserver.TOperationState_RUNNING_STATE {
		t.Fatalf("poll after StopWaiting read %v", st)
	}
}

func TestBadLongPollingConfRefusesSession(t *testing.T) {
	b, _ := startBridgeWith(t, DefaultConfig())
	c := b.noSASLClient(t)
	user := "alice"
	resp, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10,
		Username: &user, Configuration: map[string]string{longPollingKey: "soon"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || resp.SessionHandle != nil {
		t.Fatalf("OpenSession with a bad %s: %+v", longPollingKey, resp.Status)
	}
}

func TestHiveDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5000": 5 * time.Second, "5000L": 5 * time.Second, "500ms": 500 * time.Millisecond, "5s": 5 * time.Second,
		"5 sec": 5 * time.Second, "10seconds": 10 * time.Second, "2m": 2 * time.Minute, "1min": time.Minute,
		"1h": time.Hour, "1hour": time.Hour, "2days": 48 * time.Hour, "0": 0, "-1": 0, "-5s": 0,
		"1500000us": 1500 * time.Millisecond, "7nsec": 7,
	} {
		if got, err := hiveDuration(in); err != nil || got != want {
			t.Errorf("hiveDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "1.5s", "5 fortnights", "s"} {
		if _, err := hiveDuration(bad); err == nil {
			t.Errorf("hiveDuration(%q) is no error", bad)
		}
	}
}

// Hive's step when progress is asked: 500 ms more per 10 s the operation has run.
func TestPollStep(t *testing.T) {
	for elapsed, want := range map[time.Duration]time.Duration{
		0: 500 * time.Millisecond, 9 * time.Second: 500 * time.Millisecond, 10 * time.Second: time.Second,
		95 * time.Second: 5 * time.Second,
	} {
		if got := pollStep(elapsed); got != want {
			t.Errorf("pollStep(%s) = %s, want %s", elapsed, got, want)
		}
	}
}

// GetInfo answers as Spark Thrift Server does, and an info type it does not know is an error
// that leaves the connection working (its reply used to be unwritable and close it).
func TestGetInfoAnswersAndRefusals(t *testing.T) {
	b, _ := startBridgeWith(t, DefaultConfig())
	c := b.noSASLClient(t)
	sh := openWithConf(t, c, nil)
	for _, typ := range []hiveserver.TGetInfoType{hiveserver.TGetInfoType_CLI_MAX_COLUMN_NAME_LEN, hiveserver.TGetInfoType_CLI_TXN_CAPABLE} {
		resp, err := c.GetInfo(context.Background(), &hiveserver.TGetInfoReq{SessionHandle: sh, InfoType: typ})
		if err != nil {
			t.Fatalf("GetInfo %v broke the connection: %v", typ, err)
		}
		if resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS {
			t.Fatalf("GetInfo %v: %+v, want an error as Spark Thrift Server gives", typ, resp.Status)
		}
	}
	for typ, want := range map[hiveserver.TGetInfoType]string{
		hiveserver.TGetInfoType_CLI_SERVER_NAME: "Spark SQL",
		hiveserver.TGetInfoType_CLI_DBMS_NAME:   "Spark SQL",
	} {
		resp, err := c.GetInfo(context.Background(), &hiveserver.TGetInfoReq{SessionHandle: sh, InfoType: typ})
		if err != nil {
			t.Fatal(err)
		}
		mustOK(t, resp.Status)
		if got := resp.InfoValue.GetStringValue(); got != want {
			t.Errorf("GetInfo %v = %q, want %q", typ, got, want)
		}
	}
}
