package thriftfront

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/hs2client"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// shutdownServer is a binary-transport server on a loopback port whose log lines a test hook
// keeps, over sessions.
func shutdownServer(t *testing.T, sessions Sessions) (*Server, net.Listener, *test.Hook) {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	cfg := DefaultConfig()
	h := NewHandler(cfg, sessions, logrus.NewEntry(log))
	t.Cleanup(h.Close)
	srv := NewServer(cfg, h, logrus.NewEntry(log))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { ln.Close(); srv.Close() })
	return srv, ln, hook
}

// waitConns waits until srv has n connections open.
func waitConns(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv.mu.Lock()
		got := len(srv.conns)
		srv.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// warnings returns the messages logged at warning level or above.
func warnings(hook *test.Hook) []string {
	var out []string
	for _, e := range hook.AllEntries() {
		if e.Level <= logrus.WarnLevel {
			msg := e.Message
			if err, ok := e.Data[logrus.ErrorKey].(error); ok {
				msg += ": " + err.Error()
			}
			out = append(out, msg)
		}
	}
	return out
}

// dialIdle opens connections in every idle state a shutdown can find: before their first
// byte, in the middle of a SASL negotiation, and with an open session and no call, on
// both binary flavours. It returns how many it opened.
func dialIdle(t *testing.T, addr string) int {
	t.Helper()
	raw := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	n := 0
	var clients []*hs2client.Client // kept reachable: a collected connection closes itself
	t.Cleanup(func() { runtime.KeepAlive(clients) })
	for i := 0; i < 3; i++ {
		raw() // says nothing yet
		// Starts SASL and sends no PLAIN response yet.
		if _, err := raw().Write(saslMsg(saslStart, "PLAIN")); err != nil {
			t.Fatal(err)
		}
		c, err := hs2client.Dial(context.Background(), addr, hs2client.Options{User: "alice", Password: "x"})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c) // left open and idle: the server ends it
		c, err = hs2client.Dial(context.Background(), addr, hs2client.Options{User: "bob", NoSASL: true})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		n += 4
	}
	return n
}

// An idle connection closed by the shutdown is no client's fault and gets no warning,
// whatever state it was in, whether Shutdown wakes it or Close cuts it off; a real protocol
// error still gets one.
func TestIdleConnectionsCloseQuietlyAtShutdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*Server)
	}{
		{"Close", (*Server).Close},
		{"Shutdown", func(s *Server) { _ = s.Shutdown(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, mgr, _ := newFakeEngine(t)
			srv, ln, hook := shutdownServer(t, mgr)
			bad, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			if _, err := bad.Write([]byte{0x00}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(warnings(hook)) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			n := dialIdle(t, ln.Addr().String())
			waitConns(t, srv, n)
			ln.Close()
			tc.stop(srv)
			w := warnings(hook)
			if len(w) != 1 || !strings.Contains(w[0], "first byte 0x00") {
				t.Fatalf("warnings = %q, want only the one for the bad first byte", w)
			}
		})
	}
}

// blockingSessions is a Sessions whose Open waits until release is closed, then fails.
type blockingSessions struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingSessions) Open(ctx context.Context, req engine.SessionRequest) (*engine.Session, error) {
	close(b.entered)
	select {
	case <-b.release:
		return nil, errors.New("no engine in this test")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Shutdown closes idle connections at once, quietly, but a connection with a call in flight
// gets its reply before it is closed.
func TestShutdownAnswersTheCallInFlight(t *testing.T) {
	sessions := &blockingSessions{entered: make(chan struct{}), release: make(chan struct{})}
	srv, ln, hook := shutdownServer(t, sessions)
	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	trans := thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(busy, nil), 4096)
	client := hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
	type result struct {
		resp *hiveserver.TOpenSessionResp
		err  error
	}
	replied := make(chan result, 1)
	go func() {
		user := "alice"
		resp, err := client.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10, Username: &user})
		replied <- result{resp, err}
	}()
	<-sessions.entered
	if n := srv.InFlight(); n != 1 {
		t.Fatalf("InFlight = %d with one OpenSession waiting, want 1", n)
	}
	idle := make([]net.Conn, 0, 2)
	for _, first := range [][]byte{nil, saslMsg(saslStart, "PLAIN")} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if first != nil {
			if _, err := c.Write(first); err != nil {
				t.Fatal(err)
			}
		}
		idle = append(idle, c)
	}
	waitConns(t, srv, 3)

	ln.Close()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	for i, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a deadlock guard, not a speed check
		var b [64]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
					t.Fatalf("idle connection %d still open during Shutdown", i)
				}
				break
			}
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a call in flight", err)
	case r := <-replied:
		t.Fatalf("OpenSession answered (%v) before its engine did", r.err)
	default:
	}
	close(sessions.release)
	r := <-replied
	if r.err != nil {
		t.Fatalf("the call in flight was cut off: %v", r.err)
	}
	if r.resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || !strings.Contains(r.resp.Status.GetErrorMessage(), "no engine in this test") {
		t.Fatalf("OpenSession status %v %q, want the engine's error", r.resp.Status.StatusCode, r.resp.Status.GetErrorMessage())
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_ = busy.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := busy.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the connection stays open after its call was answered: %v", err)
	}
	if w := warnings(hook); len(w) != 0 {
		t.Fatalf("warnings at shutdown: %q", w)
	}
	if n := srv.InFlight(); n != 0 {
		t.Fatalf("InFlight = %d after Shutdown, want 0", n)
	}
}

// Two requests in one SASL frame are both answered: the request loop, which waits on the
// socket between calls, must not wait for a request the frame already holds.
func TestTwoRequestsInOneSASLFrame(t *testing.T) {
	srv, _ := hardenedServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a deadlock guard, not a speed check
	if _, err := conn.Write(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslComplete, "\x00alice\x00x")...)); err != nil {
		t.Fatal(err)
	}
	if status, msg, err := readSASLMessage(conn); err != nil || status != saslComplete {
		t.Fatalf("SASL: status %d %q %v", status, msg, err)
	}
	ctx := context.Background()
	var calls thrift.TMemoryBuffer
	calls.Buffer = new(bytes.Buffer)
	p := thrift.NewTBinaryProtocolConf(&calls, nil)
	for i := int32(0); i < 2; i++ {
		_ = p.WriteMessageBegin(ctx, "GetLog", thrift.CALL, i)
		_ = p.WriteStructBegin(ctx, "args")
		_ = p.WriteFieldStop(ctx)
		_ = p.WriteStructEnd(ctx)
		_ = p.WriteMessageEnd(ctx)
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(calls.Len()))
	if _, err := conn.Write(append(frame, calls.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	in := thrift.NewTBinaryProtocolConf(newSASLTransport(conn, bufio.NewReader(conn), 1<<20), nil)
	for i := int32(0); i < 2; i++ {
		name, typ, seq, err := in.ReadMessageBegin(ctx)
		if err != nil || name != "GetLog" || typ != thrift.EXCEPTION || seq != i {
			t.Fatalf("reply %d: %q %v %d %v, want GetLog's UNKNOWN_METHOD", i, name, typ, seq, err)
		}
		x := thrift.NewTApplicationException(0, "")
		if err := x.Read(ctx, in); err != nil {
			t.Fatal(err)
		}
		_ = in.ReadMessageEnd(ctx)
	}
}
