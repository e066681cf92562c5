package engine

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestEnginesListsLaunchesAndReadyEngines(t *testing.T) {
	l := &fakeLauncher{t: t, delay: 300 * time.Millisecond}
	cfg := fastConfig()
	cfg.Master = "local[2]"
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"}); err != nil {
			t.Error(err)
		}
	}()
	var launching EngineInfo
	waitFor(t, "the launch to be listed", func() bool {
		e := m.Engines()
		if len(e) == 1 && e[0].State == EngineLaunching {
			launching = e[0]
			return true
		}
		return false
	})
	if launching.User != "alice" || launching.Master != "local[2]" || launching.ID == "" || launching.Started.IsZero() {
		t.Fatalf("launching engine = %+v", launching)
	}
	wg.Wait()
	e := m.Engines()
	if len(e) != 1 || e[0].State != EngineReady || e[0].ID != launching.ID || e[0].Sessions != 1 || e[0].Addr == "" || e[0].Master != "local[2]" {
		t.Fatalf("ready engine = %+v, launched as %s", e, launching.ID)
	}
}

func TestDrainEngineRoutesNewSessionsElsewhereAndStopsIt(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	old, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DrainEngine("engine-nope", 0); KindOf(err) != KindNotFound {
		t.Fatalf("draining an unknown engine: %v, want NotFound", err)
	}
	in, err := m.DrainEngine(old.EngineID(), 300*time.Millisecond)
	if err != nil || in.State != EngineDraining {
		t.Fatalf("DrainEngine = %+v, %v", in, err)
	}
	fresh, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.EngineID() == old.EngineID() {
		t.Fatal("a new session landed on a draining engine")
	}
	// The old engine still has a session; the grace period ends its wait.
	if l.procs[0].stopped.Load() {
		t.Fatal("the drained engine stopped before its grace period with a session on it")
	}
	waitFor(t, "the drained engine to stop after its grace period", func() bool { return l.procs[0].stopped.Load() })
	if l.procs[1].stopped.Load() {
		t.Fatal("the fresh engine was stopped too")
	}
}

func TestDrainEngineStopsAnIdleEngineAtOnce(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	s, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	id := s.EngineID()
	_ = s.Close(context.Background())
	if _, err := m.DrainEngine(id, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drained engine without sessions to stop", func() bool { return l.procs[0].stopped.Load() })
}

func TestCloseSessionByAdministrator(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	s, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "connect"})
	op, err := s.StartOperation(OperationSpec{ID: "op-1", Kind: KindExecute, Statement: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CloseSession(context.Background(), "no-such-session"); KindOf(err) != KindNotFound {
		t.Fatalf("closing an unknown session: %v, want NotFound", err)
	}
	before := l.procs[0].spark.released.Load() // the readiness probe releases its session too
	if err := m.CloseSession(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("the session's Done is still open")
	}
	select {
	case <-op.Expired():
	default:
		t.Fatal("the session's operation did not expire with it")
	}
	if got := s.EndReason(); got != "closed by an administrator" {
		t.Fatalf("EndReason = %q", got)
	}
	if got := l.procs[0].spark.released.Load() - before; got != 1 {
		t.Fatalf("engine-side releases = %d, want 1", got)
	}
	if len(m.Sessions(Filter{})) != 0 {
		t.Fatal("the closed session is still listed")
	}
}

func TestCancelOperationIsStickyAndSignalled(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	s, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	op, _ := s.StartOperation(OperationSpec{ID: "op-1", Kind: KindStatement, Statement: "SELECT 1"})
	if _, err := m.CancelOperation(context.Background(), "op-2"); KindOf(err) != KindNotFound {
		t.Fatalf("cancelling an unknown operation: %v, want NotFound", err)
	}
	// The fake engine does not implement Interrupt: the failure is reported, the
	// cancellation stands.
	in, _ := m.CancelOperation(context.Background(), "op-1")
	if in.State != OpCanceled || in.Finished.IsZero() {
		t.Fatalf("cancelled operation = %+v", in)
	}
	select {
	case <-op.Cancelled():
	default:
		t.Fatal("Cancelled is still open")
	}
	op.SetState(OpFinished) // the execution's late report
	if got := op.State(); got != OpCanceled {
		t.Fatalf("state after a late report = %s, want CANCELED", got)
	}
	if _, err := m.CancelOperation(context.Background(), "op-1"); err != nil {
		t.Fatalf("a second cancel: %v", err)
	}
}

// Closing a session whose engine has died launches no engine to interrupt or release on.
func TestCloseSessionOnADeadEngineLaunchesNothing(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	s, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "connect"})
	if _, err := s.StartOperation(OperationSpec{ID: "op-1", Kind: KindExecute, Statement: "SELECT 1"}); err != nil {
		t.Fatal(err)
	}
	l.procs[0].exit()
	waitFor(t, "the dead engine forgotten", func() bool { return len(m.Engines()) == 0 })
	if err := m.CloseSession(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if n := l.launches.Load(); n != 1 {
		t.Fatalf("%d launches: closing the session launched a new engine", n)
	}
}

// Cancelling an operation that failed keeps its error.
func TestCancelKeepsAFailure(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	s, _ := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	op, _ := s.StartOperation(OperationSpec{ID: "op-1", Kind: KindStatement, Statement: "SELECT x"})
	op.Fail("[UNRESOLVED_COLUMN] x")
	if in, err := m.CancelOperation(context.Background(), "op-1"); err != nil || in.State != OpError || in.Error != "[UNRESOLVED_COLUMN] x" {
		t.Fatalf("cancel of a failed operation: %+v, %v", in, err)
	}
	select {
	case <-op.Cancelled():
		t.Fatal("a failed operation signalled Cancelled")
	default:
	}
}
