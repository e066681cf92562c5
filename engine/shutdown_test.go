package engine

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A launch whose engine becomes ready while Close runs must not leave a JVM behind: Close
// has already listed the engines it stops, so the launch itself stops the process instead
// of registering it. The fake's readiness probe is held in its last call until Close has
// begun, which puts the launch's completion after Close's list, every time.
func TestCloseStopsAnEngineWhoseLaunchRacedWithIt(t *testing.T) {
	inProbe := make(chan struct{})
	var once sync.Once
	l := &fakeLauncher{t: t, onRelease: func(ctx context.Context) {
		once.Do(func() { close(inProbe) })
		<-ctx.Done() // the probe's ctx, which Close cancels; the probe ignores this call's error
	}}
	m := NewManager(fastConfig(), l, nil)
	opened := make(chan error, 1)
	go func() {
		_, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
		opened <- err
	}()
	<-inProbe
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-opened; err == nil {
		t.Error("a session was opened on an engine launched during Close")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.procs) != 1 {
		t.Fatalf("%d launches, want 1", len(l.procs))
	}
	if !l.procs[0].stopped.Load() {
		t.Error("the engine whose launch completed during Close was left running")
	}
	if e := m.Engines(); len(e) != 0 {
		t.Errorf("engines registered after Close: %+v", e)
	}
}

// Close returns when its ctx ends, even if an engine does not exit, once every engine has
// been told to stop. The fake processes never return from Stop until the test lets them.
func TestCloseHonoursItsContext(t *testing.T) {
	hold := make(chan struct{})
	l := &fakeLauncher{t: t, stopHold: hold}
	m := NewManager(fastConfig(), l, nil)
	for _, u := range []string{"alice", "bob"} {
		if _, err := m.Open(context.Background(), SessionRequest{User: u, Protocol: "thrift"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	closed := make(chan error, 1)
	go func() { closed <- m.Close(ctx) }()
	waitFor(t, "Close to stop both engines", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.procs[0].stopped.Load() && l.procs[1].stopped.Load()
	})
	cancel()
	select {
	case err := <-closed:
		if err == nil {
			t.Error("Close returned nil with engines still stopping when its ctx ended")
		}
	case <-time.After(10 * time.Second): // a deadlock guard, not a speed check
		close(hold)
		t.Fatal("Close still waiting for engines 10 s after its ctx ended")
	}
	close(hold)
	_ = m.Close(context.Background())
}
