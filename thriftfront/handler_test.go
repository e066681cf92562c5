package thriftfront

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/hs2client"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// testBridge is a thriftfront server on a loopback port over a fake engine.
type testBridge struct {
	addr  string
	spark *enginetest.Spark
	mgr   *engine.Manager
}

// newFakeEngine starts a fake Spark Connect engine and a Manager that routes every user to
// it, both ending with the test.
func newFakeEngine(t *testing.T) (*enginetest.Spark, *engine.Manager, *logrus.Entry) {
	t.Helper()
	spark := enginetest.Start(t)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	entry := logrus.NewEntry(log)
	cfg := engine.DefaultConfig()
	cfg.Dial = engine.DialWith(transport.Dial)
	cfg.StartTimeout = 5 * time.Second
	mgr := engine.NewManager(cfg, engine.Static{Addr: spark.Addr}, entry)
	t.Cleanup(func() { _ = mgr.Close(context.Background()) })
	return spark, mgr, entry
}

// checkedAllocator wraps mem (nil: the Go allocator) so that a test can fail on an Arrow
// buffer still allocated once the server and handler have closed everything.
func checkedAllocator(mem memory.Allocator) *memory.CheckedAllocator {
	if mem == nil {
		mem = memory.NewGoAllocator()
	}
	return memory.NewCheckedAllocator(mem)
}

func startBridge(t *testing.T) *testBridge {
	t.Helper()
	b, _ := startBridgeWith(t, DefaultConfig())
	return b
}

// noSASLClient is a TCLIService client on an unframed NOSASL connection.
func (b *testBridge) noSASLClient(t *testing.T) *hiveserver.TCLIServiceClient {
	t.Helper()
	sock := thrift.NewTSocketConf(b.addr, &thrift.TConfiguration{ConnectTimeout: 5 * time.Second})
	if err := sock.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	trans := thrift.NewTBufferedTransport(sock, 64<<10)
	return hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
}

func mustOK(t *testing.T, st *hiveserver.TStatus) {
	t.Helper()
	if st.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("status %v: %s", st.StatusCode, st.GetErrorMessage())
	}
}

func openSession(t *testing.T, c *hiveserver.TCLIServiceClient, user string, proto hiveserver.TProtocolVersion) *hiveserver.TSessionHandle {
	t.Helper()
	resp, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: proto, Username: &user})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	if resp.ServerProtocolVersion != proto {
		t.Fatalf("server protocol %v, want %v", resp.ServerProtocolVersion, proto)
	}
	return resp.SessionHandle
}

// fetchAll fetches every row of a finished operation, maxRows at a time, and returns the
// ids and the number of fetch calls.
func fetchAll(t *testing.T, c *hiveserver.TCLIServiceClient, op *hiveserver.TOperationHandle, maxRows int64) ([]int64, int) {
	t.Helper()
	var ids []int64
	calls := 0
	for {
		resp, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: op, Orientation: hiveserver.TFetchOrientation_FETCH_NEXT, MaxRows: maxRows})
		if err != nil {
			t.Fatal(err)
		}
		mustOK(t, resp.Status)
		calls++
		rs := resp.Results
		var got []int64
		if len(rs.Columns) > 0 {
			got = rs.Columns[0].I64Val.Values
			if rs.StartRowOffset != int64(len(ids)) {
				t.Fatalf("startRowOffset %d, want %d", rs.StartRowOffset, len(ids))
			}
		} else {
			for _, row := range rs.Rows {
				got = append(got, row.ColVals[0].I64Val.GetValue())
			}
		}
		if int64(len(got)) > maxRows {
			t.Fatalf("fetch returned %d rows, maxRows %d", len(got), maxRows)
		}
		if len(got) == 0 {
			return ids, calls
		}
		ids = append(ids, got...)
	}
}

func TestExecuteAndFetchColumnar(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	for _, async := range []bool{false, true} {
		t.Run("async="+strconv.FormatBool(async), func(t *testing.T) {
			resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 2500;", RunAsync: async})
			if err != nil {
				t.Fatal(err)
			}
			mustOK(t, resp.Status)
			op := resp.OperationHandle
			deadline := time.Now().Add(10 * time.Second)
			for {
				st, err := c.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: op})
				if err != nil {
					t.Fatal(err)
				}
				mustOK(t, st.Status)
				if st.GetOperationState() == hiveserver.TOperationState_FINISHED_STATE {
					if !st.GetHasResultSet() {
						t.Fatal("finished without a result set")
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still %v", st.GetOperationState())
				}
				time.Sleep(10 * time.Millisecond)
			}
			md, err := c.GetResultSetMetadata(context.Background(), &hiveserver.TGetResultSetMetadataReq{OperationHandle: op})
			if err != nil {
				t.Fatal(err)
			}
			mustOK(t, md.Status)
			var names []string
			for _, col := range md.Schema.Columns {
				names = append(names, col.ColumnName+":"+col.TypeDesc.Types[0].PrimitiveEntry.Type.String())
			}
			want := "[id:BIGINT_TYPE s:STRING_TYPE even:BOOLEAN_TYPE maybe:INT_TYPE q:DOUBLE_TYPE]"
			if fmt.Sprint(names) != want {
				t.Fatalf("schema %v, want %s", names, want)
			}
			ids, calls := fetchAll(t, c, op, 700)
			if len(ids) != 2500 {
				t.Fatalf("fetched %d rows, want 2500", len(ids))
			}
			// Pages span the engine's 1000-row batches: 700, 700, 700, 400, then the empty end.
			if calls != 5 {
				t.Fatalf("%d fetches for 2500 rows at 700 a page, want 5", calls)
			}
			for i, id := range ids {
				if id != int64(i) {
					t.Fatalf("row %d has id %d", i, id)
				}
			}
			cl, err := c.CloseOperation(context.Background(), &hiveserver.TCloseOperationReq{OperationHandle: op})
			if err != nil {
				t.Fatal(err)
			}
			mustOK(t, cl.Status)
		})
	}
}

func TestFetchedValuesAndNulls(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V11)
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 10"})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	fr, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: resp.OperationHandle, MaxRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, fr.Status)
	cols := fr.Results.Columns
	if got := cols[1].StringVal.Values; fmt.Sprint(got) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Errorf("s = %v", got)
	}
	if got := cols[2].BoolVal.Values; fmt.Sprint(got) != "[true false true false true false true false true false]" {
		t.Errorf("even = %v", got)
	}
	// maybe is NULL for ids 0, 3, 6, 9: bits 0, 3, 6 of byte 0 and bit 1 of byte 1.
	if got := cols[3].I32Val.Nulls; len(got) != 2 || got[0] != 0b01001001 || got[1] != 0b10 {
		t.Errorf("maybe null bitmap = %08b", got)
	}
	if got := cols[4].DoubleVal.Values; got[5] != 1.25 {
		t.Errorf("q = %v", got)
	}
}

func TestRowBasedBelowV6(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V5)
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 1500"})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	ids, _ := fetchAll(t, c, resp.OperationHandle, 1000)
	if len(ids) != 1500 || ids[1499] != 1499 {
		t.Fatalf("fetched %d rows over row-based sets", len(ids))
	}
}

func TestErrorsCarrySQLState(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)

	// Synchronous: the error is in the ExecuteStatement status.
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "fail 42P01"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || resp.Status.GetSqlState() != "42P01" || resp.Status.GetErrorMessage() != "[FAKE_ERROR] the fake was asked to fail" {
		t.Fatalf("status = %+v", resp.Status)
	}
	// Asynchronous: the error is in GetOperationStatus.
	resp, err = c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "fail 22012", RunAsync: true})
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
		if st.GetOperationState() == hiveserver.TOperationState_ERROR_STATE {
			if st.GetSqlState() != "22012" || st.GetErrorMessage() == "" {
				t.Fatalf("error status = %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %v", st.GetOperationState())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnknownHandlesAreInvalid(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	bogus := &hiveserver.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}
	er, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: &hiveserver.TSessionHandle{SessionId: bogus}, Statement: "rows 1"})
	if err != nil {
		t.Fatal(err)
	}
	if er.Status.StatusCode != hiveserver.TStatusCode_INVALID_HANDLE_STATUS || er.Status.GetErrorMessage() != "Invalid session handle" {
		t.Fatalf("ExecuteStatement on an unknown session: %+v", er.Status)
	}
	fr, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: &hiveserver.TOperationHandle{OperationId: bogus}})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Status.StatusCode != hiveserver.TStatusCode_INVALID_HANDLE_STATUS || fr.Status.GetErrorMessage() != "Invalid operation handle" {
		t.Fatalf("FetchResults on an unknown operation: %+v", fr.Status)
	}
	// A closed operation is unknown from then on.
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	resp, _ := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 5"})
	mustOK(t, resp.Status)
	_, _ = c.CloseOperation(context.Background(), &hiveserver.TCloseOperationReq{OperationHandle: resp.OperationHandle})
	fr, err = c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: resp.OperationHandle, MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Status.GetErrorMessage() != "Invalid operation handle" {
		t.Fatalf("FetchResults on a closed operation: %+v", fr.Status)
	}
}

func TestCancelStopsEngineCall(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "hang", RunAsync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	cr, err := c.CancelOperation(context.Background(), &hiveserver.TCancelOperationReq{OperationHandle: resp.OperationHandle})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, cr.Status)
	st, err := c.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: resp.OperationHandle})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetOperationState() != hiveserver.TOperationState_CANCELED_STATE {
		t.Fatalf("state after cancel %v", st.GetOperationState())
	}
	cl, err := c.CloseOperation(context.Background(), &hiveserver.TCloseOperationReq{OperationHandle: resp.OperationHandle})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, cl.Status)
}

func TestCloseSessionReleasesEngineSession(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	open := b.mgr.Sessions(engine.Filter{})
	if len(open) != 1 {
		t.Fatalf("%d sessions open", len(open))
	}
	id := open[0].ID
	resp, err := c.CloseSession(context.Background(), &hiveserver.TCloseSessionReq{SessionHandle: sh})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	if released := b.spark.Released(); !slices.Contains(released, id) {
		t.Fatalf("engine sessions released: %v, want %s among them", released, id)
	}
	if n := len(b.mgr.Sessions(engine.Filter{})); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

func TestDisconnectClosesSessions(t *testing.T) {
	b := startBridge(t)
	sock := thrift.NewTSocketConf(b.addr, nil)
	if err := sock.Open(); err != nil {
		t.Fatal(err)
	}
	c := hiveserver.NewTCLIServiceClientFactory(thrift.NewTBufferedTransport(sock, 4096), thrift.NewTBinaryProtocolFactoryConf(nil))
	openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	sock.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(b.mgr.Sessions(engine.Filter{})) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("session outlived its connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialSASL connects to addr and negotiates SASL PLAIN with hs2client's client transport.
func dialSASL(t *testing.T, addr, user, pass string) thrift.TTransport {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	trans, err := hs2client.SASLPlain(conn, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	return trans
}

func TestSASLPlainUserIsTheIdentity(t *testing.T) {
	b := startBridge(t)
	trans := dialSASL(t, b.addr, "carol", "pw")
	c := hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
	// The SASL user wins over the Username field of OpenSession.
	sh := openSession(t, c, "mallory", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	sessions := b.mgr.Sessions(engine.Filter{})
	if len(sessions) != 1 || sessions[0].User != "carol" {
		t.Fatalf("sessions = %+v, want one of carol", sessions)
	}
	info, err := c.GetInfo(context.Background(), &hiveserver.TGetInfoReq{SessionHandle: sh, InfoType: hiveserver.TGetInfoType_CLI_DBMS_VER})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, info.Status)
	if info.InfoValue.GetStringValue() != "4.3.0-fake" {
		t.Fatalf("DBMS version %q", info.InfoValue.GetStringValue())
	}
}

func TestSessionConfReachesEngine(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	user := "alice"
	resp, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user,
		Configuration: map[string]string{
			"set:hiveconf:spark.sql.shuffle.partitions": "3",
			"set:hivevar:answer":                        "42",
			"spark.sql.ansi.enabled":                    "true",
			"set:hiveconf:sparkbridge.engine.subdomain": "x",
			"use:database":                              "default",
		}})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	if got := resp.Configuration["hive.server2.thrift.resultset.default.fetch.size"]; got != "10000" {
		t.Fatalf("fetch size echoed as %q", got)
	}
	sets := b.spark.Sets()
	want := map[string]string{"spark.sql.shuffle.partitions": "3", "answer": "42", "spark.sql.ansi.enabled": "true"}
	if fmt.Sprint(sets) != fmt.Sprint(want) {
		t.Fatalf("engine session confs %v, want %v", sets, want)
	}
	// confOverlay is applied before the statement.
	er, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: resp.SessionHandle, Statement: "rows 1",
		ConfOverlay: map[string]string{"spark.sql.session.timeZone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, er.Status)
	if b.spark.Sets()["spark.sql.session.timeZone"] != "UTC" {
		t.Fatal("confOverlay did not reach the engine")
	}
}

func TestQueryTimeout(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	start := time.Now()
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "hang", QueryTimeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || resp.Status.GetSqlState() != "HYT00" || !strings.Contains(resp.Status.GetErrorMessage(), "timed out after 1s") {
		t.Fatalf("status %+v after %s", resp.Status, time.Since(start))
	}
}

func TestProgressAndOperationLog(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "progress", RunAsync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	yes := true
	deadline := time.Now().Add(10 * time.Second)
	var pr *hiveserver.TProgressUpdateResp
	for {
		st, err := c.GetOperationStatus(context.Background(), &hiveserver.TGetOperationStatusReq{OperationHandle: resp.OperationHandle, GetProgressUpdate: &yes})
		if err != nil {
			t.Fatal(err)
		}
		pr = st.ProgressUpdateResponse
		if pr != nil && pr.FooterSummary == "STAGES: 01/02" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress never reached the second report: %+v", pr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pr.Status != hiveserver.TJobExecutionStatus_IN_PROGRESS || pr.ProgressedPercentage != 4.0/6 || pr.Rows[0][2] != "FINISHED" {
		t.Fatalf("progress %+v", pr)
	}
	logs, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: resp.OperationHandle, FetchType: 1, MaxRows: 100, Orientation: hiveserver.TFetchOrientation_FETCH_NEXT})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, logs.Status)
	lines := strings.Join(logs.Results.Columns[0].StringVal.Values, "\n")
	for _, want := range []string{"Submitted statement", "Stage 0: 2/4 tasks completed (running)", "Stage 0: 4/4 tasks completed (finished)", "Stage 1: 0/2 tasks completed (running)"} {
		if !strings.Contains(lines, want) {
			t.Errorf("operation log lacks %q:\n%s", want, lines)
		}
	}
	if strings.Count(lines, "Stage 1:") != 1 {
		t.Errorf("an unchanged stage was logged twice:\n%s", lines)
	}
	again, _ := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: resp.OperationHandle, FetchType: 1, MaxRows: 100, Orientation: hiveserver.TFetchOrientation_FETCH_NEXT})
	if n := len(again.Results.Columns[0].StringVal.Values); n != 0 {
		t.Fatalf("FETCH_NEXT of the log returned %d old lines again", n)
	}
	_, _ = c.CancelOperation(context.Background(), &hiveserver.TCancelOperationReq{OperationHandle: resp.OperationHandle})
}

func TestFetchFirstRestarts(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 1500"})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, resp.Status)
	fetch := func(o hiveserver.TFetchOrientation, n int64) []int64 {
		fr, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: resp.OperationHandle, Orientation: o, MaxRows: n})
		if err != nil {
			t.Fatal(err)
		}
		mustOK(t, fr.Status)
		return fr.Results.Columns[0].I64Val.Values
	}
	if got := fetch(hiveserver.TFetchOrientation_FETCH_NEXT, 700); len(got) != 700 || got[699] != 699 {
		t.Fatalf("first page %d rows", len(got))
	}
	if got := fetch(hiveserver.TFetchOrientation_FETCH_FIRST, 10); len(got) != 10 || got[0] != 0 {
		t.Fatalf("FETCH_FIRST gave %v", got)
	}
	var ids []int64
	for {
		page := fetch(hiveserver.TFetchOrientation_FETCH_NEXT, 1000)
		if len(page) == 0 {
			break
		}
		ids = append(ids, page...)
	}
	if len(ids) != 1490 || ids[0] != 10 || ids[len(ids)-1] != 1499 {
		t.Fatalf("after FETCH_FIRST the rest had %d rows", len(ids))
	}
	if n := strings.Count(strings.Join(b.spark.Statements(), "\n"), "rows 1500"); n != 2 {
		t.Fatalf("statement executed %d times, want 2 (FETCH_FIRST re-executes)", n)
	}
	if fr, _ := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: resp.OperationHandle, Orientation: hiveserver.TFetchOrientation_FETCH_PRIOR, MaxRows: 1}); fr.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS {
		t.Fatal("FETCH_PRIOR accepted")
	}

	tt, err := c.GetTableTypes(context.Background(), &hiveserver.TGetTableTypesReq{SessionHandle: sh})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, tt.Status)
	for round := 0; round < 2; round++ {
		o := hiveserver.TFetchOrientation_FETCH_NEXT
		if round == 1 {
			o = hiveserver.TFetchOrientation_FETCH_FIRST
		}
		fr, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: tt.OperationHandle, Orientation: o, MaxRows: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(fr.Results.Columns[0].StringVal.Values); got != "[TABLE VIEW]" {
			t.Fatalf("table types round %d: %s", round, got)
		}
	}
}

// countingAllocator counts the Arrow buffers allocated through it.
type countingAllocator struct {
	memory.Allocator
	n atomic.Int64
}

func (a *countingAllocator) Allocate(size int) []byte {
	a.n.Add(1)
	return a.Allocator.Allocate(size)
}

// TestFetchFirstRestartsOnce checks that a FETCH_FIRST restarts its result once, whatever
// the row format: a statement is executed again once, and a metadata result rebuilds its
// record once, which shows as the same Arrow allocations for a row-based (V5) session as for
// a columnar (V10) one. The FetchResults path used to check a row-based fetch twice, and so
// restarted it twice.
func TestFetchFirstRestartsOnce(t *testing.T) {
	allocs := map[hiveserver.TProtocolVersion]int64{}
	for _, proto := range []hiveserver.TProtocolVersion{hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V5, hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10} {
		t.Run(proto.String(), func(t *testing.T) {
			cfg := DefaultConfig()
			counter := &countingAllocator{Allocator: memory.NewGoAllocator()}
			cfg.Allocator = counter
			b, _ := startBridgeWith(t, cfg)
			c := b.noSASLClient(t)
			sh := openSession(t, c, "alice", proto)
			fetch := func(op *hiveserver.TOperationHandle, o hiveserver.TFetchOrientation, n int64) []string {
				t.Helper()
				fr, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: op, Orientation: o, MaxRows: n})
				if err != nil {
					t.Fatal(err)
				}
				mustOK(t, fr.Status)
				var vals []string
				for _, col := range fr.Results.Columns {
					if col.I64Val != nil {
						for _, v := range col.I64Val.Values {
							vals = append(vals, strconv.FormatInt(v, 10))
						}
					} else {
						vals = append(vals, col.StringVal.Values...)
					}
					break
				}
				for _, row := range fr.Results.Rows {
					if v := row.ColVals[0]; v.I64Val != nil {
						vals = append(vals, strconv.FormatInt(v.I64Val.GetValue(), 10))
					} else {
						vals = append(vals, v.StringVal.GetValue())
					}
				}
				return vals
			}

			er, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 1500"})
			if err != nil {
				t.Fatal(err)
			}
			mustOK(t, er.Status)
			fetch(er.OperationHandle, hiveserver.TFetchOrientation_FETCH_NEXT, 700)
			if got := fetch(er.OperationHandle, hiveserver.TFetchOrientation_FETCH_FIRST, 3); fmt.Sprint(got) != "[0 1 2]" {
				t.Fatalf("FETCH_FIRST gave %v", got)
			}
			if n := strings.Count(strings.Join(b.spark.Statements(), "\n"), "rows 1500"); n != 2 {
				t.Fatalf("statement executed %d times, want 2: once, then once for FETCH_FIRST", n)
			}

			tt, err := c.GetTableTypes(context.Background(), &hiveserver.TGetTableTypesReq{SessionHandle: sh})
			if err != nil {
				t.Fatal(err)
			}
			mustOK(t, tt.Status)
			fetch(tt.OperationHandle, hiveserver.TFetchOrientation_FETCH_NEXT, 10)
			before := counter.n.Load()
			if got := fetch(tt.OperationHandle, hiveserver.TFetchOrientation_FETCH_FIRST, 10); fmt.Sprint(got) != "[TABLE VIEW]" {
				t.Fatalf("FETCH_FIRST of table types gave %v", got)
			}
			allocs[proto] = counter.n.Load() - before
		})
	}
	v5, v10 := allocs[hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V5], allocs[hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10]
	if v10 == 0 || v5 != v10 {
		t.Fatalf("FETCH_FIRST of a metadata result: %d Arrow allocations row-based, %d columnar; want the same, one rebuild each", v5, v10)
	}
}
