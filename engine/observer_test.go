package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// recorder is an Observer that writes each event as one line.
type recorder struct {
	mu     sync.Mutex
	events []string
	ended  []OperationInfo
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) SessionOpened(s SessionInfo) {
	r.add("session opened %s %s/%s %s", s.User, s.Protocol, s.Transport, s.ClientAddr)
}
func (r *recorder) SessionOpenFailed(req SessionRequest, err error) {
	r.add("session failed %s %s", req.User, KindOf(err))
}
func (r *recorder) SessionClosed(s SessionInfo, reason string) {
	r.add("session closed %s %s", s.User, reason)
}
func (r *recorder) OperationStarted(op OperationInfo) { r.add("op started %s %s", op.ID, op.Kind) }
func (r *recorder) OperationSent(protocol, transport string, rows, bytes int64) {
	r.add("sent %s/%s %d %d", protocol, transport, rows, bytes)
}
func (r *recorder) OperationEnded(op OperationInfo) {
	r.mu.Lock()
	r.ended = append(r.ended, op)
	r.mu.Unlock()
	r.add("op ended %s %s %q rows=%d bytes=%d", op.ID, op.State, op.Error, op.Rows, op.Bytes)
}
func (r *recorder) EngineChanged(e EngineEvent) { r.add("engine %s %s", e.Type, e.Reason) }

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

var _ Observer = (*recorder)(nil)

// TestObserverSeesEveryEventOnce follows one session through the registry: each event
// reaches every observer once, from its one place, in order.
func TestObserverSeesEveryEventOnce(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	a, b := &recorder{}, &recorder{}
	cfg.Observer = Observers{a, b}
	m := NewManager(cfg, l, nil)
	ctx := context.Background()
	s, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift", Transport: "binary", ClientAddr: "10.0.0.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(ctx, SessionRequest{User: "bob", SessionID: s.ID}); err == nil {
		t.Fatal("bob joined alice's session")
	}
	op, err := s.StartOperation(OperationSpec{ID: "op1", Kind: KindStatement, Statement: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	op.Sent(3, 100)
	op.Sent(0, 0) // nothing sent: not reported
	op.Fail("boom")
	op.End()
	op.End() // a second End is not reported again
	op2, _ := s.StartOperation(OperationSpec{ID: "op2", Kind: KindStatement})
	_ = s.Close(ctx) // op2 expires with its session
	op2.End()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"engine launching ",
		"engine ready ",
		"session opened alice thrift/binary 10.0.0.1:5000",
		"session failed bob permission denied",
		"op started op1 statement",
		"sent thrift/binary 3 100",
		`op ended op1 ERROR "boom" rows=3 bytes=100`,
		"op started op2 statement",
		`op ended op2 RUNNING "" rows=0 bytes=0`,
		"session closed alice closed",
		"engine stopped bridge shutdown",
	}
	for _, r := range []*recorder{a, b} {
		if got := r.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	in := a.ended[0]
	if in.ClientAddr != "10.0.0.1:5000" || in.Transport != "binary" || in.EngineID == "" || in.Ended.Before(in.Started) {
		t.Fatalf("ended operation info %+v", in)
	}
}

// TestObserverSeesEngineLossAndLaunchFailure: an engine whose process dies is lost; a
// failed launch is reported with its error.
func TestObserverSeesEngineLossAndLaunchFailure(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	r := &recorder{}
	cfg.Observer = r
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	if _, err := m.Open(context.Background(), SessionRequest{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.procs[0].exit()
	l.fail = errors.New("no spark")
	l.mu.Unlock()
	waitFor(t, "the loss", func() bool { return len(m.Engines()) == 0 })
	if _, err := m.Open(context.Background(), SessionRequest{User: "carol"}); err == nil {
		t.Fatal("a failed launch gave a session")
	}
	got := strings.Join(r.lines(), "\n")
	for _, w := range []string{"engine lost its process exited", "engine launch_failed", "session failed carol unavailable"} {
		if !strings.Contains(got, w) {
			t.Fatalf("events:\n%s\nlack %q", got, w)
		}
	}
	if e := m.Engines(); len(e) != 0 {
		t.Fatalf("launches in flight after they ended: %+v", e)
	}
}
