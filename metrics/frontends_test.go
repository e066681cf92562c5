package metrics_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/audit"
	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/hs2client"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/metrics"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// The secrets of the workload: none may reach the audit file.
const (
	password    = "pw-Very-Secret-1"
	token       = "tok-Very-Secret-2"
	engineToken = "engine-Very-Secret-3"
	confSecret  = "conf-Very-Secret-4"
)

// passwords accepts alice with password and the bearer token; it trusts no one else.
type passwords struct{}

func (passwords) Password(_ context.Context, user, pw string) (auth.Identity, error) {
	if pw != password {
		return auth.Identity{}, auth.ErrBadCredentials
	}
	return auth.Identity{User: user}, nil
}

func (passwords) Token(_ context.Context, tok, _ string) (auth.Identity, error) {
	if tok != token {
		return auth.Identity{}, auth.ErrBadCredentials
	}
	return auth.Identity{User: "alice"}, nil
}
func (passwords) TrustsClients() bool { return false }
func (passwords) Mode() string        { return "FILE" }

// bridge is the whole bridge in process: both frontends, all three transports, the engine
// layer on a fake engine, the metrics and the audit log on one observer hook.
type bridge struct {
	mx        *metrics.Metrics
	scrape    *httptest.Server
	auditPath string
	binary    string // HS2 binary address
	httpURL   string // HS2 HTTP URL
	connect   string // Spark Connect address
	stop      func()
}

func startBridge(t *testing.T) *bridge {
	t.Helper()
	spark := enginetest.Start(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	entry := logrus.NewEntry(log)

	mx := metrics.New(metrics.DefaultConfig())
	acfg := audit.DefaultConfig()
	acfg.Path = filepath.Join(t.TempDir(), "audit.log")
	al, err := audit.Open(acfg)
	if err != nil {
		t.Fatal(err)
	}
	ecfg := engine.DefaultConfig()
	ecfg.Dial = engine.DialWith(transport.Dial)
	ecfg.StartTimeout = 5 * time.Second
	ecfg.Observer = engine.Observers{mx, al}
	mgr := engine.NewManager(ecfg, engine.Static{Addr: spark.Addr, Token: engineToken}, entry)
	mx.ReadFrom(mgr)

	tcfg := thriftfront.DefaultConfig()
	tcfg.Auth, tcfg.Observer = passwords{}, mx
	h := thriftfront.NewHandler(tcfg, mgr, entry)
	tsrv := thriftfront.NewServer(tcfg, h, entry)
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = tsrv.Serve(tln) }()

	hsrv := httptest.NewUnstartedServer(thriftfront.NewHTTPHandler(h, entry))
	hsrv.Config.ConnState = mx.ConnState(metrics.ProtoHS2HTTP)
	hsrv.Start()

	ccfg := connectfront.DefaultConfig()
	ccfg.Auth, ccfg.Observer = passwords{}, mx
	csrv := connectfront.New(ccfg, mgr, entry)
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = csrv.Serve(cln) }()

	scrape := httptest.NewServer(mx.Handler())
	b := &bridge{mx: mx, scrape: scrape, auditPath: acfg.Path, binary: tln.Addr().String(), httpURL: hsrv.URL + "/cliservice",
		connect: cln.Addr().String()}
	stopped := false
	b.stop = func() {
		if stopped {
			return
		}
		stopped = true
		tln.Close()
		_ = tsrv.Shutdown(context.Background())
		hsrv.Close()
		csrv.Stop()
		h.Close()
		_ = mgr.Close(context.Background())
		_ = al.Close()
	}
	t.Cleanup(func() { b.stop(); scrape.Close() })
	return b
}

// sample is one scraped sample: its name and labels, sorted, as name{k="v",...}.
type samples map[string]float64

// scrapeAll reads /metrics as Prometheus does and parses it with expfmt.
func (b *bridge) scrapeAll(t *testing.T) samples {
	t.Helper()
	resp, err := http.Get(b.scrape.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := samples{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			key := func(suffix string, extra ...*dto.LabelPair) string {
				var ls []string
				for _, l := range append(m.GetLabel(), extra...) {
					ls = append(ls, l.GetName()+"="+l.GetValue())
				}
				sort.Strings(ls)
				return name + suffix + "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key("")] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key("")] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key("_count")] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// saslClient opens a SASL PLAIN connection as alice with pw.
func saslClient(t *testing.T, addr, pw string) (*hiveserver.TCLIServiceClient, net.Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	trans, err := hs2client.SASLPlain(conn, "alice", pw)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil)), conn, nil
}

func mustStatus(t *testing.T, st *hiveserver.TStatus, want hiveserver.TStatusCode) {
	t.Helper()
	if st.GetStatusCode() != want {
		t.Fatalf("status %v (%s), want %v", st.GetStatusCode(), st.GetErrorMessage(), want)
	}
}

// hs2Workload runs, on c: a session, a 2500-row statement fetched 1000 rows at a time, a
// failing statement, a SET of the engine secret, and the session's close.
func hs2Workload(t *testing.T, c *hiveserver.TCLIServiceClient, rows string, fetches int) {
	t.Helper()
	ctx := context.Background()
	user := "alice"
	open, err := c.OpenSession(ctx, &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user})
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, open.Status, hiveserver.TStatusCode_SUCCESS_STATUS)
	ex, err := c.ExecuteStatement(ctx, &hiveserver.TExecuteStatementReq{SessionHandle: open.SessionHandle, Statement: rows})
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, ex.Status, hiveserver.TStatusCode_SUCCESS_STATUS)
	for i := 0; i < fetches; i++ {
		fr, err := c.FetchResults(ctx, &hiveserver.TFetchResultsReq{OperationHandle: ex.OperationHandle, Orientation: hiveserver.TFetchOrientation_FETCH_NEXT, MaxRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, fr.Status, hiveserver.TStatusCode_SUCCESS_STATUS)
	}
	co, err := c.CloseOperation(ctx, &hiveserver.TCloseOperationReq{OperationHandle: ex.OperationHandle})
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, co.Status, hiveserver.TStatusCode_SUCCESS_STATUS)
	for _, stmt := range []string{"fail 42000", "SET spark.connect.authenticate.token=" + confSecret} {
		ex, err := c.ExecuteStatement(ctx, &hiveserver.TExecuteStatementReq{SessionHandle: open.SessionHandle, Statement: stmt})
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, ex.Status, hiveserver.TStatusCode_ERROR_STATUS)
	}
	cs, err := c.CloseSession(ctx, &hiveserver.TCloseSessionReq{SessionHandle: open.SessionHandle})
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, cs.Status, hiveserver.TStatusCode_SUCCESS_STATUS)
}

func httpClient(t *testing.T, url, pw string) *hiveserver.TCLIServiceClient {
	t.Helper()
	trans, err := thrift.NewTHttpClientWithOptions(url, thrift.THttpClientOptions{Client: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	trans.(*thrift.THttpClient).SetHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:"+pw)))
	return hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
}

func sqlPlan(q string) *connect.Plan {
	return &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Sql{Sql: &connect.SQL{Query: q}}}}}
}

// drain reads an ExecutePlan stream to its end and returns its error.
func drain(stream grpc.ServerStreamingClient[connect.ExecutePlanResponse]) error {
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestKnownWorkloadExactMetricsAndAudit runs a known workload through the real frontends,
// on every transport, and checks the scraped counters exactly, the audit file's lines and
// that no secret reached the audit file.
func TestKnownWorkloadExactMetricsAndAudit(t *testing.T) {
	b := startBridge(t)
	ctx := context.Background()

	// HiveServer2 binary: a refused password, then the workload.
	if _, _, err := saslClient(t, b.binary, "wrong"); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	c, conn, err := saslClient(t, b.binary, password)
	if err != nil {
		t.Fatal(err)
	}
	hs2Workload(t, c, "rows 2500", 4) // 1000, 1000, 500, then the empty page
	conn.Close()

	// HiveServer2 HTTP: a refused password, then the workload.
	bad := httpClient(t, b.httpURL, "wrong")
	if _, err := bad.OpenSession(ctx, &hiveserver.TOpenSessionReq{}); err == nil {
		t.Fatal("HTTP: a wrong password was accepted")
	}
	hs2Workload(t, httpClient(t, b.httpURL, password), "rows 10", 2)

	// Spark Connect: a refused token, then a result, a failure, and the session's release.
	gc, err := grpc.NewClient(b.connect, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	cc := connectgrpc.NewSparkConnectServiceClient(gc)
	sid := uuid.NewString()
	uc := &connect.UserContext{UserId: "alice"}
	badCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer wrong")
	if st, err := cc.ExecutePlan(badCtx, &connect.ExecutePlanRequest{SessionId: sid, UserContext: uc, Plan: sqlPlan("rows 1")}); err == nil {
		if err := drain(st); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("a wrong token: %v", err)
		}
	}
	okCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	for q, want := range map[string]codes.Code{"rows 1500": codes.OK, "fail 42000": codes.InvalidArgument} {
		st, err := cc.ExecutePlan(okCtx, &connect.ExecutePlanRequest{SessionId: sid, UserContext: uc, Plan: sqlPlan(q)})
		if err != nil {
			t.Fatal(err)
		}
		if err := drain(st); status.Code(err) != want {
			t.Fatalf("%s: %v, want %v", q, err, want)
		}
	}
	if _, err := cc.ReleaseSession(okCtx, &connect.ReleaseSessionRequest{SessionId: sid, UserContext: uc}); err != nil {
		t.Fatal(err)
	}

	// Connections end on the server's own goroutines: wait for the binary ones.
	deadline := time.Now().Add(5 * time.Second)
	for b.scrapeAll(t)[`sparkbridge_connections_active{protocol=hs2_binary}`] != 0 {
		if time.Now().After(deadline) {
			t.Fatal("binary connections still active")
		}
		time.Sleep(10 * time.Millisecond)
	}

	got := b.scrapeAll(t)
	const cs = "/spark.connect.SparkConnectService/"
	want := samples{
		`sparkbridge_connections_opened_total{protocol=hs2_binary}`:                                  2,
		`sparkbridge_connections_failed_total{protocol=hs2_binary,reason=auth}`:                      1,
		`sparkbridge_auth_failures_total{mechanism=plain,protocol=hs2_binary}`:                       1,
		`sparkbridge_auth_failures_total{mechanism=basic,protocol=hs2_http}`:                         1,
		`sparkbridge_auth_failures_total{mechanism=bearer,protocol=connect}`:                         1,
		`sparkbridge_sessions_opened_total{protocol=hs2_binary}`:                                     1,
		`sparkbridge_sessions_opened_total{protocol=hs2_http}`:                                       1,
		`sparkbridge_sessions_opened_total{protocol=connect}`:                                        1,
		`sparkbridge_sessions_closed_total{protocol=hs2_binary,reason=closed}`:                       1,
		`sparkbridge_sessions_closed_total{protocol=hs2_http,reason=closed}`:                         1,
		`sparkbridge_sessions_closed_total{protocol=connect,reason=detached}`:                        1,
		`sparkbridge_sessions_active{protocol=hs2_binary}`:                                           0,
		`sparkbridge_sessions_active{protocol=connect}`:                                              0,
		`sparkbridge_operations_started_total{kind=statement,protocol=hs2_binary}`:                   3,
		`sparkbridge_operations_finished_total{kind=statement,outcome=ok,protocol=hs2_binary}`:       1,
		`sparkbridge_operations_finished_total{kind=statement,outcome=error,protocol=hs2_binary}`:    2,
		`sparkbridge_operations_started_total{kind=statement,protocol=hs2_http}`:                     3,
		`sparkbridge_operations_finished_total{kind=statement,outcome=ok,protocol=hs2_http}`:         1,
		`sparkbridge_operations_finished_total{kind=statement,outcome=error,protocol=hs2_http}`:      2,
		`sparkbridge_operations_started_total{kind=execute,protocol=connect}`:                        2,
		`sparkbridge_operations_finished_total{kind=execute,outcome=ok,protocol=connect}`:            1,
		`sparkbridge_operations_finished_total{kind=execute,outcome=error,protocol=connect}`:         1,
		`sparkbridge_operation_duration_seconds_count{kind=statement,protocol=hs2_binary}`:           3,
		`sparkbridge_operation_duration_seconds_count{kind=execute,protocol=connect}`:                2,
		`sparkbridge_rows_sent_total{protocol=hs2_binary}`:                                           2500,
		`sparkbridge_rows_sent_total{protocol=hs2_http}`:                                             10,
		`sparkbridge_rows_sent_total{protocol=connect}`:                                              1500,
		`sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=OpenSession,protocol=hs2_binary}`:         1,
		`sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=ExecuteStatement,protocol=hs2_binary}`:    1,
		`sparkbridge_rpcs_total{code=ERROR_STATUS,method=ExecuteStatement,protocol=hs2_binary}`:      2,
		`sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=FetchResults,protocol=hs2_binary}`:        4,
		`sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=CloseOperation,protocol=hs2_binary}`:      1,
		`sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=CloseSession,protocol=hs2_binary}`:        1,
		`sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=FetchResults,protocol=hs2_http}`:          2,
		`sparkbridge_rpcs_total{code=OK,method=` + cs + `ExecutePlan,protocol=connect}`:              1,
		`sparkbridge_rpcs_total{code=InvalidArgument,method=` + cs + `ExecutePlan,protocol=connect}`: 1,
		`sparkbridge_rpcs_total{code=Unauthenticated,method=` + cs + `ExecutePlan,protocol=connect}`: 1,
		`sparkbridge_rpcs_total{code=OK,method=` + cs + `ReleaseSession,protocol=connect}`:           1,
		`sparkbridge_rpc_duration_seconds_count{method=FetchResults,protocol=hs2_binary}`:            4,
		`sparkbridge_engine_launches_total{}`:                                                        1,
		`sparkbridge_engine_launch_failures_total{}`:                                                 0,
		`sparkbridge_engine_launch_duration_seconds_count{}`:                                         1,
		`sparkbridge_engine_losses_total{}`:                                                          0,
		`sparkbridge_engines{state=ready}`:                                                           1,
		`sparkbridge_engines{state=launching}`:                                                       0,
		`sparkbridge_connections_active{protocol=connect}`:                                           1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if got[`sparkbridge_bytes_sent_total{protocol=hs2_binary}`] <= 0 || got[`sparkbridge_bytes_sent_total{protocol=connect}`] <= 0 {
		t.Error("no bytes counted as sent")
	}
	if got[`sparkbridge_connections_opened_total{protocol=hs2_http}`] < 1 {
		t.Error("no HTTP connection counted")
	}
	if t.Failed() {
		var keys []string
		for k, v := range got {
			if strings.HasPrefix(k, "sparkbridge_") {
				keys = append(keys, fmt.Sprintf("%s %v", k, v))
			}
		}
		sort.Strings(keys)
		t.Logf("scraped:\n%s", strings.Join(keys, "\n"))
	}

	// The audit file: every line JSON; the sessions and operations of the workload.
	b.stop()
	data, err := os.ReadFile(b.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{password, token, engineToken, confSecret} {
		if bytes.Contains(data, []byte(secret)) {
			t.Fatalf("secret %q reached the audit file:\n%s", secret, data)
		}
	}
	var ops, opens, closes int
	var sawRedacted, sawRows bool
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l audit.Line
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if l.Time.IsZero() || l.User != "alice" {
			t.Fatalf("audit line without time or user: %s", line)
		}
		switch l.Event {
		case audit.EventSessionOpen:
			opens++
		case audit.EventSessionClose:
			closes++
		case audit.EventOperation:
			ops++
			if l.ClientAddr == "" || l.EngineID == "" || l.SessionID == "" || l.DurationMS == nil || l.Rows == nil || l.Outcome == "" {
				t.Fatalf("operation line lacks a field: %s", line)
			}
			if l.Statement == "rows 2500" && l.Protocol == "thrift" && l.Transport == "binary" && *l.Rows == 2500 && l.Outcome == "ok" {
				sawRows = true
			}
			if strings.HasPrefix(l.Statement, "SET spark.connect.authenticate.token=") {
				if l.Statement != "SET spark.connect.authenticate.token="+audit.Redacted || l.Outcome != "error" || !strings.Contains(l.Error, audit.Redacted) {
					t.Fatalf("the secret SET's line: %s", line)
				}
				sawRedacted = true
			}
		default:
			t.Fatalf("unexpected audit event: %s", line)
		}
	}
	if opens != 3 || closes != 3 || ops != 8 || !sawRedacted || !sawRows {
		t.Fatalf("audit: %d opens, %d closes, %d operations (want 3, 3, 8), redacted SET %v, rows line %v:\n%s", opens, closes, ops, sawRedacted, sawRows, data)
	}
}
