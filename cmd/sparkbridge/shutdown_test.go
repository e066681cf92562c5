package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// heldLauncher launches the fake engine, but only once release is closed: a session opened
// before then is a call in flight that lasts as long as the test wants.
type heldLauncher struct {
	inner   engine.Launcher
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (l *heldLauncher) Launch(ctx context.Context, spec engine.Spec) (engine.Process, error) {
	l.once.Do(func() { close(l.entered) })
	select {
	case <-l.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return l.inner.Launch(ctx, spec)
}

// testStopper is a bridge on loopback ports, its three listeners serving, over the fake
// engine; its log lines stay in hook.
type testStopper struct {
	*stopper
	launcher *heldLauncher
	hook     *test.Hook
	addr     string // binary transport
	httpURL  string // HTTP transport
}

func startStopper(t *testing.T, grace time.Duration) *testStopper {
	t.Helper()
	spark := enginetest.Start(t)
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	entry := logrus.NewEntry(log)
	l := &heldLauncher{inner: engine.Static{Addr: spark.Addr}, entered: make(chan struct{}), release: make(chan struct{})}
	ecfg := engine.DefaultConfig()
	ecfg.Dial = engine.DialWith(transport.Dial)
	mgr := engine.NewManager(ecfg, l, entry)
	tcfg := thriftfront.DefaultConfig()
	handler := thriftfront.NewHandler(tcfg, mgr, entry)
	tsrv := thriftfront.NewServer(tcfg, handler, entry)
	csrv := connectfront.New(connectfront.DefaultConfig(), mgr, entry)
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	tln, hln, cln := listen(), listen(), listen()
	mux := http.NewServeMux()
	hh := thriftfront.NewHTTPHandler(handler, entry)
	mux.Handle("/cliservice", hh)
	hsrv := &http.Server{Handler: mux}
	go func() { _ = tsrv.Serve(tln) }()
	go func() { _ = hsrv.Serve(hln) }()
	go func() { _ = csrv.Serve(cln) }()
	t.Cleanup(func() { _ = mgr.Close(context.Background()) })
	b := &stopper{log: entry, mgr: mgr, handler: handler, tsrv: tsrv, tln: tln, hsrv: hsrv, hh: hh, csrv: csrv, grace: grace}
	return &testStopper{stopper: b, launcher: l, hook: hook, addr: tln.Addr().String(), httpURL: "http://" + hln.Addr().String() + "/cliservice"}
}

// run starts the shutdown and returns a channel closed when it is over.
func (b *testStopper) run(t *testing.T) <-chan struct{} {
	sig := make(chan os.Signal)
	done := make(chan struct{})
	go func() {
		b.shutdown(sig)
		close(sig)
		close(done)
	}()
	return done
}

// waitRefused waits until the binary port refuses connections: the drain has begun.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the binary port still accepts connections 10 s into the shutdown")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func binaryClient(t *testing.T, addr string) *hiveserver.TCLIServiceClient {
	t.Helper()
	sock := thrift.NewTSocketConf(addr, &thrift.TConfiguration{ConnectTimeout: 5 * time.Second})
	if err := sock.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	return hiveserver.NewTCLIServiceClientFactory(thrift.NewTBufferedTransport(sock, 4096), thrift.NewTBinaryProtocolFactoryConf(nil))
}

func httpClient(t *testing.T, url string) *hiveserver.TCLIServiceClient {
	t.Helper()
	trans, err := thrift.NewTHttpClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trans.Close() })
	return hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
}

// A HiveServer2 call in flight when the shutdown begins (here an OpenSession waiting for
// its engine to launch) is work in flight on either transport: the drain waits for it, and
// it gets its reply, as a Spark Connect call does.
func TestDrainKeepsAnHS2CallInFlight(t *testing.T) {
	for _, transport := range []string{"binary", "http"} {
		t.Run(transport, func(t *testing.T) { testDrainKeepsAnHS2CallInFlight(t, transport) })
	}
}

func testDrainKeepsAnHS2CallInFlight(t *testing.T, transport string) {
	b := startStopper(t, time.Minute)
	var c *hiveserver.TCLIServiceClient
	if transport == "http" {
		c = httpClient(t, b.httpURL)
	} else {
		c = binaryClient(t, b.addr)
	}
	type result struct {
		resp *hiveserver.TOpenSessionResp
		err  error
	}
	replied := make(chan result, 1)
	go func() {
		user := "alice"
		resp, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user})
		replied <- result{resp, err}
	}()
	<-b.launcher.entered
	done := b.run(t)
	waitRefused(t, b.addr)
	close(b.launcher.release)
	r := <-replied
	if r.err != nil {
		t.Fatalf("the OpenSession in flight was cut off by the shutdown: %v", r.err)
	}
	if r.resp.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("OpenSession: %v %s", r.resp.Status.StatusCode, r.resp.Status.GetErrorMessage())
	}
	<-done
	if e := b.mgr.Engines(); len(e) != 0 {
		t.Fatalf("engines left after the shutdown: %+v", e)
	}
}

// With no grace period, the drain ends at once and every session with work in flight is
// reported in one line, whichever protocol opened it: user, protocol and what was running.
// A session with nothing running is not reported.
func TestCutOffSessionsOneLineEach(t *testing.T) {
	b := startStopper(t, 0)
	close(b.launcher.release)
	c := binaryClient(t, b.addr)
	user := "alice"
	open, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user})
	if err != nil || open.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("OpenSession: %v %v", err, open.GetStatus())
	}
	exec, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: open.SessionHandle, Statement: "hang", RunAsync: true})
	if err != nil || exec.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("ExecuteStatement: %v %v", err, exec.GetStatus())
	}
	idle := binaryClient(t, b.addr)
	bob := "bob"
	if r, err := idle.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &bob}); err != nil || r.Status.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("bob's OpenSession: %v %v", err, r.GetStatus())
	}
	cs, err := b.mgr.Open(context.Background(), engine.SessionRequest{User: "carol", SessionID: "5f0c8e55-8f2c-4a8e-9d0e-2a64b7c1f3a9", Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.StartOperation(engine.OperationSpec{ID: "op-1", Kind: engine.KindExecute, Statement: "SELECT 2"}); err != nil {
		t.Fatal(err)
	}
	// A finished result nobody closed is not work in flight: no line for dave.
	ds, err := b.mgr.Open(context.Background(), engine.SessionRequest{User: "dave", SessionID: "8a1e3c5d-7b9f-4d2e-a6c8-0f1e2d3c4b5a", Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := ds.StartOperation(engine.OperationSpec{ID: "op-2", Kind: engine.KindExecute, Statement: "SELECT 3"})
	if err != nil {
		t.Fatal(err)
	}
	done.SetState(engine.OpFinished)
	<-b.run(t)
	lines := map[string][]*logrus.Entry{}
	for _, e := range b.hook.AllEntries() {
		if strings.HasPrefix(e.Message, "cutting off") {
			u, _ := e.Data["user"].(string)
			lines[u] = append(lines[u], e)
		}
	}
	for _, want := range []struct{ user, protocol, running string }{{"alice", "thrift", "statement: hang"}, {"carol", "connect", "execute: SELECT 2"}} {
		got := lines[want.user]
		if len(got) != 1 {
			t.Errorf("%d cut-off lines for %s's session, want 1", len(got), want.user)
			continue
		}
		if p, _ := got[0].Data["protocol"].(string); p != want.protocol {
			t.Errorf("%s's cut-off line has protocol %q, want %q", want.user, p, want.protocol)
		}
		if ops, _ := got[0].Data["operations"].(string); ops != want.running {
			t.Errorf("%s's cut-off line says %q was running", want.user, ops)
		}
	}
	if len(lines["bob"]) != 0 || len(lines) != 2 {
		t.Errorf("cut-off lines for %d users (%v), want alice and carol only", len(lines), lines)
	}
}
