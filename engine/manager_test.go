package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// fakeSpark is an in-process Spark Connect server that answers the readiness probe and
// checks the engine secret, as a real engine does.
type fakeSpark struct {
	connectgrpc.UnimplementedSparkConnectServiceServer
	token    string
	released atomic.Int32
	// onRelease, if set, runs first in every ReleaseSession: the readiness probe's last call.
	onRelease func(context.Context)
}

func (f *fakeSpark) authorized(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+f.token {
		return status.Error(codes.Unauthenticated, "bad token")
	}
	return nil
}

func (f *fakeSpark) AnalyzePlan(ctx context.Context, req *connect.AnalyzePlanRequest) (*connect.AnalyzePlanResponse, error) {
	if err := f.authorized(ctx); err != nil {
		return nil, err
	}
	return &connect.AnalyzePlanResponse{SessionId: req.SessionId, Result: &connect.AnalyzePlanResponse_SparkVersion_{
		SparkVersion: &connect.AnalyzePlanResponse_SparkVersion{Version: "4.3.0-fake"}}}, nil
}

func (f *fakeSpark) ReleaseSession(ctx context.Context, req *connect.ReleaseSessionRequest) (*connect.ReleaseSessionResponse, error) {
	if f.onRelease != nil {
		f.onRelease(ctx)
	}
	if err := f.authorized(ctx); err != nil {
		return nil, err
	}
	f.released.Add(1)
	return &connect.ReleaseSessionResponse{SessionId: req.SessionId}, nil
}

// fakeProcess is a launched fake engine.
type fakeProcess struct {
	addr, token string
	srv         *grpc.Server
	done        chan struct{}
	once        sync.Once
	stopped     atomic.Bool
	stopHold    chan struct{} // if set, Stop returns only once it is closed, whatever its ctx
	spark       *fakeSpark
}

func (p *fakeProcess) Addr() string          { return p.addr }
func (p *fakeProcess) Token() string         { return p.token }
func (p *fakeProcess) PID() int              { return 0 }
func (p *fakeProcess) Done() <-chan struct{} { return p.done }
func (p *fakeProcess) Stop(context.Context) error {
	p.stopped.Store(true)
	if p.stopHold != nil {
		<-p.stopHold
	}
	p.exit()
	return nil
}

// exit simulates the engine process dying.
func (p *fakeProcess) exit() {
	p.once.Do(func() {
		if p.srv != nil {
			p.srv.Stop()
		}
		close(p.done)
	})
}

// fakeLauncher counts launches and starts a fakeSpark for each.
type fakeLauncher struct {
	t        *testing.T
	launches atomic.Int32
	delay    time.Duration
	fail     error
	deaf     bool // the process never answers the probe
	// wrongToken makes the engine expect another secret than the one the bridge sends,
	// as a static engine configured with a stale token does.
	wrongToken bool
	// onRelease is handed to each fakeSpark; stopHold to each fakeProcess.
	onRelease func(context.Context)
	stopHold  chan struct{}

	mu    sync.Mutex
	procs []*fakeProcess
}

func (l *fakeLauncher) Launch(ctx context.Context, spec Spec) (Process, error) {
	l.launches.Add(1)
	if l.delay > 0 {
		time.Sleep(l.delay)
	}
	if l.fail != nil {
		return nil, l.fail
	}
	p := &fakeProcess{token: "secret-" + spec.Name, done: make(chan struct{}), stopHold: l.stopHold}
	if l.deaf {
		p.addr = deadAddr(l.t)
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p.addr = ln.Addr().String()
		p.srv = grpc.NewServer()
		want := p.token
		if l.wrongToken {
			want = "another secret"
		}
		p.spark = &fakeSpark{token: want, onRelease: l.onRelease}
		connectgrpc.RegisterSparkConnectServiceServer(p.srv, p.spark)
		go func() { _ = p.srv.Serve(ln) }()
	}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newTestManager(t *testing.T, l *fakeLauncher) *Manager {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.StartTimeout = 5 * time.Second
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	m := NewManager(cfg, l, logrus.NewEntry(log))
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func TestConcurrentOpensLaunchOnce(t *testing.T) {
	l := &fakeLauncher{t: t, delay: 200 * time.Millisecond}
	m := newTestManager(t, l)
	const n = 100
	var wg sync.WaitGroup
	engines := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
			errs[i] = err
			if err == nil {
				engines[i] = s.EngineID()
			}
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if engines[i] != engines[0] {
			t.Fatalf("open %d got engine %s, open 0 got %s", i, engines[i], engines[0])
		}
	}
	if got := l.launches.Load(); got != 1 {
		t.Fatalf("%d launches for one user, want 1", got)
	}
	if got := len(m.Sessions(Filter{})); got != n {
		t.Fatalf("%d sessions listed, want %d", got, n)
	}
	if e := m.Engines(); len(e) != 1 || e[0].User != "alice" || e[0].State != EngineReady || e[0].Sessions != n {
		t.Fatalf("engines = %+v", e)
	}
}

func TestUsersGetTheirOwnEngines(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := newTestManager(t, l)
	a, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Open(context.Background(), SessionRequest{User: "bob", Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	if a.EngineID() == b.EngineID() {
		t.Fatalf("alice and bob share engine %s", a.EngineID())
	}
	if a.EngineID() != a2.EngineID() {
		t.Fatalf("alice's two sessions are on %s and %s", a.EngineID(), a2.EngineID())
	}
	if a.SparkVersion() != "4.3.0-fake" {
		t.Fatalf("SparkVersion = %q", a.SparkVersion())
	}
	if got := l.launches.Load(); got != 2 {
		t.Fatalf("%d launches, want 2", got)
	}
}

func TestLaunchFailureIsReportedAndRetried(t *testing.T) {
	l := &fakeLauncher{t: t, fail: errors.New("spark-submit: exit status 1: java not found")}
	m := newTestManager(t, l)
	_, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if !IsUnavailable(err) || !strings.Contains(err.Error(), "java not found") {
		t.Fatalf("err = %v, want an unavailable error carrying the launcher's reason", err)
	}
	l.fail = nil
	if _, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"}); err != nil {
		t.Fatalf("second open after a failed launch: %v", err)
	}
	if got := l.launches.Load(); got != 2 {
		t.Fatalf("%d launches, want 2 (the failed one and a retry)", got)
	}
}

func TestLaunchTimeout(t *testing.T) {
	l := &fakeLauncher{t: t, deaf: true}
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.StartTimeout = 700 * time.Millisecond
	log := logrus.New()
	log.SetLevel(logrus.PanicLevel)
	m := NewManager(cfg, l, logrus.NewEntry(log))
	defer m.Close(context.Background())
	_, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if !IsUnavailable(err) || !strings.Contains(err.Error(), "did not become ready within 700ms") {
		t.Fatalf("err = %v, want a readiness timeout", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.procs) != 1 || !l.procs[0].stopped.Load() {
		t.Fatalf("the engine that timed out was not stopped")
	}
}

func TestDeadEngineIsRelaunched(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := newTestManager(t, l)
	s1, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.procs[0].exit()
	l.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for s1.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("session did not notice its engine died")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !IsEngineLost(s1.Err()) {
		t.Fatalf("dead session error %v is not unavailable", s1.Err())
	}
	s2, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if s2.EngineID() == s1.EngineID() {
		t.Fatalf("new session landed on the dead engine")
	}
	if got := l.launches.Load(); got != 2 {
		t.Fatalf("%d launches, want 2", got)
	}
}

func TestSessionBelongsToItsUser(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := newTestManager(t, l)
	const id = "7d3c54a8-8f55-4c69-9a38-7c1b0d0b9a11"
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", SessionID: id, Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Open(context.Background(), SessionRequest{User: "alice", SessionID: id, Protocol: "connect"})
	if err != nil || again != s {
		t.Fatalf("re-attach: %v, same session %v", err, again == s)
	}
	if _, err := m.Open(context.Background(), SessionRequest{User: "bob", SessionID: id, Protocol: "connect"}); !IsPermissionDenied(err) {
		t.Fatalf("bob attaching alice's session: err = %v, want permission denied", err)
	}
	if _, err := m.Open(context.Background(), SessionRequest{User: "alice", SessionID: "not-a-uuid", Protocol: "connect"}); KindOf(err) != KindInvalidArgument {
		t.Fatalf("bad session id: err = %v", err)
	}
}

func TestCloseStopsEveryEngine(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	m := NewManager(cfg, l, nil)
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, err := m.Open(context.Background(), SessionRequest{User: u, Protocol: "thrift"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, p := range l.procs {
		if !p.stopped.Load() {
			t.Errorf("engine %d not stopped by Close", i)
		}
	}
	if _, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"}); !IsUnavailable(err) {
		t.Fatalf("open after Close: err = %v, want unavailable", err)
	}
}

func TestSessionCloseReleasesEngineSession(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := newTestManager(t, l)
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v (the engine secret must reach the engine)", err)
	}
	if n := len(m.Sessions(Filter{})); n != 0 {
		t.Fatalf("%d sessions after Close, want 0", n)
	}
}

// A call on a session its client has just released (PySpark's ReleaseExecute after
// ReleaseSession) reaches the engine but does not register the session again: the engine
// stays idle, and the user's session count does not grow.
func TestReleasedSessionIsNotRegisteredAgain(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := newTestManager(t, l)
	const id = "0f6f2a4e-7d3b-4f55-9a2a-55c1d3a1e0b7"
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", SessionID: id, Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	s.Detach()
	if n := len(m.Sessions(Filter{})); n != 0 {
		t.Fatalf("%d sessions after the release, want 0", n)
	}
	late, err := m.Open(context.Background(), SessionRequest{User: "alice", SessionID: id, Protocol: "connect"})
	if err != nil {
		t.Fatalf("late call on a released session: %v", err)
	}
	if late.EngineID() != s.EngineID() {
		t.Errorf("late call routed to engine %s, want the session's engine %s", late.EngineID(), s.EngineID())
	}
	if n := len(m.Sessions(Filter{})); n != 0 {
		t.Fatalf("the released session was registered again: %d sessions", n)
	}
	for _, e := range m.Engines() {
		if e.Sessions != 0 {
			t.Fatalf("engine %s counts %d sessions after the release", e.ID, e.Sessions)
		}
	}
	late.Detach() // a second release is harmless
	if _, err := m.Open(context.Background(), SessionRequest{User: "bob", SessionID: id, Protocol: "connect"}); !IsPermissionDenied(err) {
		t.Fatalf("bob on alice's released session: err = %v, want permission denied", err)
	}
	if l.launches.Load() != 1 {
		t.Fatalf("%d launches, want 1", l.launches.Load())
	}
}

func TestReleasedSessionsAreBounded(t *testing.T) {
	var r releasedSessions
	now := time.Now()
	for i := 0; i < releasedMax+10; i++ {
		r.add(fmt.Sprint("id-", i), releasedSession{user: "u", at: now})
	}
	if len(r.byID) != releasedMax || len(r.order) != releasedMax {
		t.Fatalf("%d ids and %d in order, want %d", len(r.byID), len(r.order), releasedMax)
	}
	r.add("fresh", releasedSession{user: "u", at: now.Add(releasedTTL)})
	if len(r.byID) != 1 {
		t.Fatalf("%d ids after the TTL passed, want 1", len(r.byID))
	}
	if _, ok := r.get("fresh", now.Add(releasedTTL)); !ok {
		t.Fatal("fresh entry missing")
	}
	if _, ok := r.get("fresh", now.Add(2*releasedTTL)); ok {
		t.Fatal("entry still returned after its TTL")
	}
}

// During a drain, open sessions keep working and new ones are refused as shutting down;
// Quiet reports when no session has work or recent calls.
func TestDrainRefusesNewSessionsOnly(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := newTestManager(t, l)
	const id = "6b1d1a0c-2b8e-4f6e-8a57-0d8c4a0f6a11"
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", SessionID: id, Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	op, err := s.StartOperation(OperationSpec{ID: "op-1", Kind: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	m.Drain()
	if again, err := m.Open(context.Background(), SessionRequest{User: "alice", SessionID: id, Protocol: "connect"}); err != nil || again != s {
		t.Fatalf("an open session during the drain: %v", err)
	}
	if _, err := m.Open(context.Background(), SessionRequest{User: "bob", Protocol: "thrift"}); KindOf(err) != KindShuttingDown {
		t.Fatalf("a new session during the drain: err = %v, want shutting down", err)
	}
	if m.Quiet(0) {
		t.Fatal("Quiet with an operation running")
	}
	op.End()
	if m.Quiet(time.Hour) {
		t.Fatal("Quiet although the session was used moments ago")
	}
	if !m.Quiet(0) {
		t.Fatal("not Quiet with no operation and no quiet period")
	}
}
