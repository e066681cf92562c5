package thriftfront

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// countingHook counts the log lines a server writes.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h *countingHook) Fire(*logrus.Entry) error {
	h.n.Add(1)
	return nil
}

// hardenedServer is a server with no engines whose log lines are counted.
func hardenedServer(t *testing.T) (*Server, *countingHook) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	hook := &countingHook{}
	log.AddHook(hook)
	cfg := DefaultConfig()
	cfg.HandshakeTimeout = 5 * time.Second
	mem := checkedAllocator(nil)
	cfg.Allocator = mem
	h := NewHandler(cfg, noEngines{}, logrus.NewEntry(log))
	t.Cleanup(func() { h.Close(); mem.AssertSize(t, 0) })
	return NewServer(cfg, h, logrus.NewEntry(log)), hook
}

// serveInput runs one server connection fed with in. With closeWrite the client then
// half-closes; otherwise it stays connected, so only the server can end the connection. It
// returns once the server has closed the connection, failing the test after 10 s.
func serveInput(t *testing.T, srv *Server, in []byte, closeWrite bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serveInputOn(t, srv, ln, in, closeWrite)
}

// serveInputOn is serveInput on a listener the caller owns.
func serveInputOn(t *testing.T, srv *Server, ln net.Listener, in []byte, closeWrite bool) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.serveConn(server, &connState{}); close(done) }()
	go func() {
		_, _ = client.Write(in)
		if closeWrite {
			_ = client.(*net.TCPConn).CloseWrite()
		}
	}()
	// Drain whatever the server answers until it closes.
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, client)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the server kept the connection open after %d input bytes", len(in))
	}
}

// saslPrefix is a complete SASL PLAIN negotiation.
func saslPrefix() []byte {
	return append(saslMsg(saslStart, "PLAIN"), saslMsg(saslComplete, "\x00mallory\x00pw")...)
}

func frame(payload []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(out, payload...)
}

// callMessage encodes a CALL of method whose argument struct body is written by args.
func callMessage(t *testing.T, method string, args func(p thrift.TProtocol)) []byte {
	t.Helper()
	var buf thrift.TMemoryBuffer
	buf.Buffer = new(bytes.Buffer)
	p := thrift.NewTBinaryProtocolConf(&buf, &thrift.TConfiguration{})
	ctx := context.Background()
	_ = p.WriteMessageBegin(ctx, method, thrift.CALL, 1)
	_ = p.WriteStructBegin(ctx, "args")
	if args != nil {
		args(p)
	}
	_ = p.WriteFieldStop(ctx)
	_ = p.WriteStructEnd(ctx)
	_ = p.WriteMessageEnd(ctx)
	_ = p.Flush(ctx)
	return buf.Bytes()
}

// A frame whose header promises more bytes than arrive must not leave a zero-filled frame
// behind to be parsed as endless empty-named messages (55 bytes once spun a core for
// minutes and wrote 18 million log lines).
func TestShortFrameEndsConnection(t *testing.T) {
	srv, hook := hardenedServer(t)
	in := append(saslPrefix(), 0, 0, 0x03, 0xe8) // a 1000-byte frame ...
	in = append(in, 0x80, 0x01, 0x00, 0x01)      // ... of which 4 bytes arrive
	serveInput(t, srv, in, true)
	if n := hook.n.Load(); n > 10 {
		t.Fatalf("%d log lines for one short frame", n)
	}
}

// An unknown method ends the connection after one log line, however many follow.
func TestUnknownMethodsEndConnection(t *testing.T) {
	srv, hook := hardenedServer(t)
	in := saslPrefix()
	for i := 0; i < 1000; i++ {
		in = append(in, frame(callMessage(t, "NoSuchMethod", nil))...)
	}
	serveInput(t, srv, in, false)
	if n := hook.n.Load(); n > 10 {
		t.Fatalf("%d log lines for a stream of unknown methods", n)
	}
	// NOSASL: the same.
	srv, hook = hardenedServer(t)
	in = nil
	for i := 0; i < 1000; i++ {
		in = append(in, callMessage(t, "NoSuchMethod", nil)...)
	}
	serveInput(t, srv, in, false)
	if n := hook.n.Load(); n > 10 {
		t.Fatalf("%d log lines for a NOSASL stream of unknown methods", n)
	}
}

// allocatedBy returns the bytes the process allocated while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Declared sizes cost nothing until their bytes arrive: a map that claims millions of
// entries, a list likewise, and a frame header that claims 256 MiB.
func TestDeclaredSizeBombs(t *testing.T) {
	// request encodes method(req) where req's field id (of type typ) begins with header and
	// then ends: the declared size is all there is.
	request := func(method, reqStruct, field string, typ thrift.TType, id int16, header func(context.Context, thrift.TProtocol) error) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return callMessage(t, method, func(p thrift.TProtocol) {
				ctx := context.Background()
				_ = p.WriteFieldBegin(ctx, "req", thrift.STRUCT, 1)
				_ = p.WriteStructBegin(ctx, reqStruct)
				_ = p.WriteFieldBegin(ctx, field, typ, id)
				_ = header(ctx, p)
			})
		}
	}
	mapBomb := request("OpenSession", "TOpenSessionReq", "configuration", thrift.MAP, 4, func(ctx context.Context, p thrift.TProtocol) error {
		return p.WriteMapBegin(ctx, thrift.STRING, thrift.STRING, 8_400_000)
	})
	listBomb := request("GetTables", "TGetTablesReq", "tableTypes", thrift.LIST, 5, func(ctx context.Context, p thrift.TProtocol) error {
		return p.WriteListBegin(ctx, thrift.STRING, 30_000_000)
	})
	stringBomb := request("OpenSession", "TOpenSessionReq", "username", thrift.STRING, 2, func(ctx context.Context, p thrift.TProtocol) error {
		return p.WriteI32(ctx, 200_000_000)
	})
	cases := map[string]func(t *testing.T) []byte{
		"nosasl map":    mapBomb,
		"nosasl list":   listBomb,
		"nosasl string": stringBomb,
		"sasl map":      func(t *testing.T) []byte { return append(saslPrefix(), frame(mapBomb(t))...) },
		"sasl list":     func(t *testing.T) []byte { return append(saslPrefix(), frame(listBomb(t))...) },
		"sasl frame":    func(t *testing.T) []byte { return append(saslPrefix(), 0x0f, 0xff, 0xff, 0xff, 0x80, 0x01) },
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			srv, _ := hardenedServer(t)
			in := input(t)
			// A frame or string still being sent is waited for (its bytes may be on the way):
			// those senders leave, and the memory spent is what counts.
			got := allocatedBy(func() { serveInput(t, srv, in, name == "sasl frame" || name == "nosasl string") })
			if got > 16<<20 {
				t.Fatalf("%d input bytes made the server allocate %d MiB", len(in), got>>20)
			}
		})
	}
}

// flakyListener fails its first accepts with EMFILE, as a process out of file descriptors
// sees, then accepts for real.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// Running out of file descriptors does not stop the accept loop; the flood of errors
// becomes a few log lines.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	srv, hook := hardenedServer(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner}
	ln.fails.Store(12)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server answers the connection once the errors are over: a NOSASL message with
	// an unknown method gets an exception reply.
	if _, err := c.Write(callMessage(t, "Ping", nil)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		t.Fatalf("no answer after the accept errors: %v", err)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v on EMFILE", err)
	default:
	}
	if n := hook.n.Load(); n > 3 {
		t.Errorf("%d log lines for 12 accept errors", n)
	}
	inner.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
}

// Over the connection limit, a SASL client is told why.
func TestConnectionLimitRefusesClearly(t *testing.T) {
	srv, _ := hardenedServer(t)
	srv.cfg.MaxConnections = 2
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = srv.Serve(ln) }()
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.mu.Lock()
		n := len(srv.conns)
		srv.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections registered, want 2", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(saslMsg(saslStart, "PLAIN")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, msg, err := readSASLMessage(c)
	if err != nil || status != saslBad || !bytes.Contains(msg, []byte("too many connections")) {
		t.Fatalf("over the limit: status %d, %q, %v; want BAD naming the limit", status, msg, err)
	}
	srv.Close()
}

// impyla calls Impala's GetLog after every statement and falls back when the server says
// the method is unknown: such a call gets UNKNOWN_METHOD and the connection goes on.
func TestUnknownMethodAnsweredThenConnectionGoesOn(t *testing.T) {
	srv, _ := hardenedServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	sock := thrift.NewTSocketConf(ln.Addr().String(), &thrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 5 * time.Second})
	if err := sock.Open(); err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	trans := thrift.NewTBufferedTransport(sock, 4096)
	p := thrift.NewTBinaryProtocolConf(trans, nil)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		// An unknown call ...
		_ = p.WriteMessageBegin(ctx, "GetLog", thrift.CALL, int32(i))
		_ = p.WriteStructBegin(ctx, "args")
		_ = p.WriteFieldStop(ctx)
		_ = p.WriteStructEnd(ctx)
		_ = p.WriteMessageEnd(ctx)
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		name, typ, _, err := p.ReadMessageBegin(ctx)
		if err != nil || name != "GetLog" || typ != thrift.EXCEPTION {
			t.Fatalf("GetLog answered %q %v %v, want an exception", name, typ, err)
		}
		x := thrift.NewTApplicationException(0, "")
		if err := x.Read(ctx, p); err != nil || x.TypeId() != thrift.UNKNOWN_METHOD {
			t.Fatalf("GetLog: %v (%v), want UNKNOWN_METHOD", x, err)
		}
		_ = p.ReadMessageEnd(ctx)
		// ... then a known one, answered on the same connection.
		c := hiveserver.NewTCLIServiceClient(thrift.NewTStandardClient(p, p))
		resp, err := c.CloseSession(ctx, &hiveserver.TCloseSessionReq{SessionHandle: &hiveserver.TSessionHandle{SessionId: &hiveserver.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}}})
		if err != nil || resp.GetStatus() == nil {
			t.Fatalf("CloseSession after an unknown method: %v, %v", resp, err)
		}
	}
}
