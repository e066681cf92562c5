package engine

import (
	"context"
	"fmt"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"testing"
	"time"
)

func fastConfig() Config {
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.StartTimeout = 5 * time.Second
	cfg.ReapInterval = 20 * time.Millisecond
	cfg.LivenessInterval = 0
	return cfg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIdleEngineIsStopped(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.IdleTimeout = 100 * time.Millisecond
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if len(m.Engines()) != 1 {
		t.Fatal("an engine with an open session was stopped")
	}
	_ = s.Close(context.Background())
	waitFor(t, "idle engine to stop", func() bool { return len(m.Engines()) == 0 })
	// The engine leaves the list before its process is stopped (new sessions must not get
	// it meanwhile), so the stop is waited for, not checked at once.
	waitFor(t, "idle engine's process to be stopped", func() bool { return l.procs[0].stopped.Load() })
}

func TestConnectionShareLevelStopsEngineOnClose(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.ShareLevel = ShareConnection
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	a, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	b, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if a.EngineID() == b.EngineID() || l.launches.Load() != 2 {
		t.Fatalf("CONNECTION sessions share an engine (%d launches)", l.launches.Load())
	}
	_ = a.Close(context.Background())
	if !l.procs[0].stopped.Load() || l.procs[1].stopped.Load() {
		t.Fatal("closing a CONNECTION session must stop its engine and only its engine")
	}
}

func TestMaxLifetimeDrains(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.MaxLifetime = 100 * time.Millisecond
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	old, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	waitFor(t, "engine to drain", func() bool {
		e := m.Engines()
		return len(e) == 1 && e[0].State == "draining"
	})
	fresh, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.EngineID() == old.EngineID() {
		t.Fatal("a new session landed on a draining engine")
	}
	if l.procs[0].stopped.Load() {
		t.Fatal("draining engine stopped while a session was still on it")
	}
	_ = old.Close(context.Background())
	waitFor(t, "drained engine to stop", func() bool { return l.procs[0].stopped.Load() })
}

func TestFailedLivenessProbesStopEngine(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.LivenessInterval = 30 * time.Millisecond
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // healthy probes must not stop it
	if s.Err() != nil {
		t.Fatal("healthy engine treated as dead")
	}
	l.procs[0].srv.Stop() // the server hangs up but the process "lives": only probes notice
	waitFor(t, "unresponsive engine to be stopped", func() bool { return s.Err() != nil })
	if !IsEngineLost(s.Err()) {
		t.Fatalf("err %v", s.Err())
	}
	// The session moves to a new engine on its next call.
	if _, err := s.Conn(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Err() != nil || l.launches.Load() != 2 {
		t.Fatalf("session not moved to a relaunched engine (%d launches)", l.launches.Load())
	}
}

func TestLimits(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.MaxEngines = 2
	cfg.MaxSessionsPerUser = 2
	cfg.MaxOperationsPerSession = 1
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	ctx := context.Background()
	a1, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift"}); KindOf(err) != KindResourceExhausted {
		t.Fatalf("third session of alice: %v", err)
	}
	if _, err := m.Open(ctx, SessionRequest{User: "bob", Protocol: "thrift"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(ctx, SessionRequest{User: "carol", Protocol: "thrift"}); KindOf(err) != KindResourceExhausted {
		t.Fatalf("third engine: %v", err)
	}
	op, err := a1.StartOperation(OperationSpec{ID: "op1", Kind: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a1.StartOperation(OperationSpec{ID: "op2", Kind: "thrift"}); KindOf(err) != KindResourceExhausted {
		t.Fatalf("second running operation: %v", err)
	}
	op.SetState(OpFinished)
	if _, err := a1.StartOperation(OperationSpec{ID: "op3", Kind: "thrift"}); err != nil {
		t.Fatalf("an operation after the running one finished: %v", err)
	}
}

func TestJoinSharesSessionUntilLastHolderCloses(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	ctx := context.Background()
	conn, err := m.Open(ctx, SessionRequest{User: "alice", SessionID: "0b6c6a0e-6f5c-4f36-8c59-6b2b1f4c9d10", Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	joined, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift", Conf: map[string]string{"set:hiveconf:" + ConfSessionID: conn.ID}})
	if err != nil || joined != conn {
		t.Fatalf("join: %v (same session %v)", err, joined == conn)
	}
	if _, err := m.Open(ctx, SessionRequest{User: "bob", Protocol: "thrift", Conf: map[string]string{ConfSessionID: conn.ID}}); !IsPermissionDenied(err) {
		t.Fatalf("bob joining alice's session: %v", err)
	}
	if _, err := m.Open(ctx, SessionRequest{User: "alice", Conf: map[string]string{ConfSessionID: "5f1f0d9e-0c7e-4a53-9a3c-2d7f8f0e4b21"}}); !IsNotFound(err) {
		t.Fatalf("joining an unknown session: %v", err)
	}
	_ = joined.Close(ctx)
	if len(m.Sessions(Filter{})) != 1 {
		t.Fatal("the joined session closed while its Connect holder still had it")
	}
	_ = conn.Close(ctx)
	if len(m.Sessions(Filter{})) != 0 {
		t.Fatal("the session outlived its last holder")
	}
}

func TestIdleSessionAndOperationAreClosed(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.SessionIdleTimeout = 150 * time.Millisecond
	cfg.OperationIdleTimeout = 50 * time.Millisecond
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	op, err := s.StartOperation(OperationSpec{ID: "op", Kind: KindStatement})
	if err != nil {
		t.Fatal(err)
	}
	op.SetState(OpFinished)
	select {
	case <-op.Expired():
	case <-time.After(5 * time.Second):
		t.Fatal("idle operation not expired")
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("idle session not closed")
	}
	if _, err := s.Conn(context.Background()); !IsNotFound(err) {
		t.Fatalf("client of a closed session: %v", err)
	}
}

// The idle reaper ends a shared session once, for all its holders: the engine-side session
// is released exactly once, and the holders' own Close calls later do nothing more (the
// reaper used to force the holder count to one and Close, so the next holder's Close
// released it again).
func TestIdleSharedSessionIsReleasedOnce(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.SessionIdleTimeout = 100 * time.Millisecond
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	ctx := context.Background()
	s, err := m.Open(ctx, SessionRequest{User: "alice", SessionID: "2c3a4f8e-1d6b-4e7a-9c0f-5b8d7e6a1f20", Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	if joined, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift", Conf: map[string]string{ConfSessionID: s.ID}}); err != nil || joined != s {
		t.Fatalf("join: %v", err)
	}
	spark := l.procs[0].spark
	before := spark.released.Load() // the readiness probe releases its own session
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("idle session not ended")
	}
	waitFor(t, "the engine-side release", func() bool { return spark.released.Load() > before })
	_ = s.Close(ctx)
	_ = s.Close(ctx)
	if n := spark.released.Load() - before; n != 1 {
		t.Fatalf("the session was released %d times, want once", n)
	}
}

// The registry's read API races with nothing: sessions and operations start, change and
// end on other goroutines while it is read (run under -race), and what it returns is a
// copy with every field of the entry.
func TestRegistryReadsAreRaceFree(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	ctx := context.Background()
	s, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			op, err := s.StartOperation(OperationSpec{ID: fmt.Sprintf("op-%d", i), Kind: KindStatement, Statement: "SELECT 1"})
			if err != nil {
				t.Error(err)
				return
			}
			op.Sent(10, 100)
			op.SetState(OpFinished)
			op.End()
		}
	}()
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		for _, op := range m.Operations(Filter{User: "alice"}) {
			if op.User != "alice" || op.Protocol != "thrift" || op.SessionID != s.ID || op.Statement != "SELECT 1" || op.EngineID == "" {
				t.Fatalf("operation read as %+v", op)
			}
		}
	}
	last, err := s.StartOperation(OperationSpec{ID: "last", Kind: KindMetadata, Statement: "GET_TABLES"})
	if err != nil {
		t.Fatal(err)
	}
	last.Sent(3, 42)
	got := m.Operations(Filter{State: OpRunning})
	if len(got) != 1 || got[0].ID != "last" || got[0].Rows != 3 || got[0].Bytes != 42 || got[0].Kind != KindMetadata || !got[0].Finished.IsZero() {
		t.Fatalf("operations: %+v", got)
	}
	if got := m.Sessions(Filter{Protocol: "connect"}); len(got) != 0 {
		t.Fatalf("protocol filter: %+v", got)
	}
	if got := m.Sessions(Filter{State: OpFinished}); len(got) != 0 {
		t.Fatalf("state filter kept a session without a finished operation: %+v", got)
	}
}

// When the idle reaper ends a session, its operations end with it, even when operations
// never idle out on their own: their frontends are told (Expired) and free what they hold,
// and no operation can start on the ended session.
func TestEndedSessionExpiresItsOperations(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.SessionIdleTimeout = 100 * time.Millisecond
	cfg.OperationIdleTimeout = 0
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	op, err := s.StartOperation(OperationSpec{ID: "op", Kind: KindStatement})
	if err != nil {
		t.Fatal(err)
	}
	op.SetState(OpFinished) // a finished result the client never closed
	select {
	case <-op.Expired():
	case <-time.After(5 * time.Second):
		t.Fatal("the operation of an ended session never expired")
	}
	if _, err := s.StartOperation(OperationSpec{ID: "late", Kind: KindStatement}); KindOf(err) != KindNotFound {
		t.Fatalf("an operation on an ended session: %v", err)
	}
}
