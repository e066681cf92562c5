package thriftfront

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// Config configures the HiveServer2 frontend.
type Config struct {
	// MaxFrameSize bounds one Thrift message (a SASL frame or a NOSASL message), in bytes.
	MaxFrameSize int
	// HandshakeTimeout bounds the time from accept to the end of SASL negotiation.
	HandshakeTimeout time.Duration
	// ServerProtocol is the highest TCLIService protocol version the server speaks.
	ServerProtocol hiveserver.TProtocolVersion
	// DefaultFetchSize is echoed to clients as hive.server2.thrift.resultset.default.fetch.size.
	DefaultFetchSize int
	// MaxConnections bounds the binary transport's open connections; 0 means no limit.
	// A connection over it is refused at once, with a SASL BAD message naming the limit.
	MaxConnections int
	// Auth checks SASL PLAIN credentials; nil means auth.None. A provider that does not
	// trust clients also refuses NOSASL connections, which carry no credentials.
	Auth auth.Provider
	// LongPollingTimeout is how long GetOperationStatus waits for a running operation to end
	// before answering, as HiveServer2's hive.server2.long.polling.timeout, which a session
	// may set for itself when it opens. 0 answers at once.
	LongPollingTimeout time.Duration
	// Allocator holds the Arrow buffers of decoded results and metadata rows; nil means
	// memory.NewGoAllocator(). Tests pass a memory.CheckedAllocator to catch leaked buffers.
	Allocator memory.Allocator
}

// DefaultConfig returns the defaults: 256 MiB frames, V11.
func DefaultConfig() Config {
	return Config{
		MaxFrameSize:     256 << 20,
		HandshakeTimeout: 30 * time.Second,
		MaxConnections:   4096,
		ServerProtocol:   hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V11,
		DefaultFetchSize: 10000,
		Auth:             auth.None{},
		// HiveServer2's default.
		LongPollingTimeout: 5 * time.Second,
		Allocator:          memory.NewGoAllocator(),
	}
}

// Server accepts HiveServer2 binary-transport connections, SASL PLAIN and NOSASL on one port.
type Server struct {
	cfg     Config
	handler *Handler
	log     *logrus.Entry

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per connection

	// mu guards conns.
	mu    sync.Mutex
	conns map[net.Conn]struct{}

	acceptErrs, refused rateLimited // log floods become one line per interval with a count

	// connLogs holds one rate limiter per cause of a closed connection, so that a flood of
	// bad connections writes one line per cause per interval, with a count.
	connLogsMu sync.Mutex
	connLogs   map[string]*rateLimited
}

func (s *Server) connLog(cause string) *rateLimited {
	s.connLogsMu.Lock()
	defer s.connLogsMu.Unlock()
	if s.connLogs == nil {
		s.connLogs = map[string]*rateLimited{}
	}
	r := s.connLogs[cause]
	if r == nil {
		r = &rateLimited{}
		s.connLogs[cause] = r
	}
	return r
}

// refuseConn tells a client the server is full: a SASL BAD message, which Hive JDBC and
// PyHive show as the reason, for a client that starts SASL; a closed connection otherwise.
func refuseConn(conn net.Conn, msg string) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var first [1]byte
	if n, _ := conn.Read(first[:]); n == 1 && first[0] == saslStart {
		_ = writeSASLMessage(conn, saslBad, []byte(msg))
	}
}

// rateLimited logs at most one line per interval for one cause, counting the rest.
type rateLimited struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

const logInterval = 10 * time.Second

func (r *rateLimited) log(e *logrus.Entry, msg string) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.last) < logInterval {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		e = e.WithField("suppressed", n)
	}
	e.Warn(msg)
}

// NewServer returns a Server that serves handler.
func NewServer(cfg Config, handler *Handler, log *logrus.Entry) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, handler: handler, log: log.WithField("component", "thriftfront"), ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
}

// Serve accepts connections on ln until ln is closed. Accept errors other than a closed
// listener (out of file descriptors, an aborted handshake) never stop it: it backs off,
// up to a second, and keeps serving the connections it has.
func (s *Server) Serve(ln net.Listener) error {
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return nil
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.acceptErrs.log(s.log.WithError(err).WithField("retry_in", backoff), "accept failed; retrying")
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections {
			s.mu.Unlock()
			s.refused.log(s.log.WithField("limit", s.cfg.MaxConnections), "connection refused: the HiveServer2 binary port is at its connection limit")
			go refuseConn(conn, fmt.Sprintf("sparkbridge: too many connections (limit %d); try again later", s.cfg.MaxConnections))
			continue
		}
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

// Close closes every connection (which closes their sessions) and waits for them to end.
func (s *Server) Close() {
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serveConn runs one connection: transport detection, optional SASL, then requests until the
// client leaves. Sessions opened on the connection are closed when it ends, as HiveServer2
// does for the binary transport.
func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	log := s.log.WithField("remote", conn.RemoteAddr().String())
	_ = conn.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	br := bufio.NewReaderSize(conn, 64<<10)
	first, err := br.Peek(1)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.connLog("silent").log(log.WithError(err), "connection closed before the first byte")
		}
		return
	}

	var trans thrift.TTransport
	ci := &connInfo{remote: conn.RemoteAddr().String()}
	switch first[0] {
	case saslStart:
		// The check, a failed-attempt backoff included, ends with the handshake deadline.
		actx, cancel := context.WithTimeout(auth.WithClientAddr(s.ctx, conn.RemoteAddr().String()), s.cfg.HandshakeTimeout)
		creds, err := saslHandshake(br, conn, func(c plainCredentials) error { return s.handler.checkPassword(actx, c) })
		cancel()
		if err != nil {
			if errors.Is(err, auth.ErrBadCredentials) {
				// The auth guard reports refusals in aggregate.
				log.WithError(err).Debug("closing connection: authentication failed")
				return
			}
			s.connLog("sasl").log(log.WithError(err), "closing connection: SASL negotiation failed")
			return
		}
		ci.user, ci.authenticated = creds.User, true
		trans = newSASLTransport(conn, br, s.cfg.MaxFrameSize)
	case 0x80: // first byte of a strict binary-protocol message: NOSASL
		if !s.handler.cfg.Auth.TrustsClients() {
			s.connLog("nosasl").log(log, fmt.Sprintf("closing connection: NOSASL carries no credentials and auth mode is %s; use SASL PLAIN", s.handler.cfg.Auth.Mode()))
			return
		}
		trans = newRawTransport(conn, br)
	default:
		s.connLog("first-byte").log(log, fmt.Sprintf("closing connection: first byte 0x%02x is neither a SASL START nor a Thrift binary message", first[0]))
		return
	}
	_ = conn.SetDeadline(time.Time{})

	conf := &thrift.TConfiguration{MaxMessageSize: int32(s.cfg.MaxFrameSize), MaxFrameSize: int32(s.cfg.MaxFrameSize)}
	pf := thrift.NewTBinaryProtocolFactoryConf(conf)
	prot := pf.GetProtocol(trans)
	in := newBoundedProtocol(prot, trans)
	proc := newProcessor(s.handler, pf)
	unknown := 0 // unknown methods called in a row
	ctx := withConnInfo(s.ctx, ci)
	defer s.handler.closeConnSessions(ci)

	// A blocked read ends when the server shuts down.
	stop := context.AfterFunc(s.ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	for {
		ok, err := processOne(ctx, proc, in, prot, &unknown)
		if err != nil {
			if isClientGone(err) || s.ctx.Err() != nil {
				return // a client leaving, or the shutdown closing an idle connection
			}
			// Any protocol error ends the connection: after one, the rest of the stream
			// cannot be trusted to be framed as messages.
			s.connLog("protocol").log(log.WithError(err), "closing connection: protocol error")
			return
		}
		if !ok {
			return
		}
	}
}

// maxUnknownInARow bounds the calls of unknown methods a connection may make with no known
// call between them. Clients probe: impyla calls Impala's GetLog after every statement and
// falls back when told the method is unknown, so one unknown call now and then is normal;
// a stream of them is not.
const maxUnknownInARow = 8

// processOne handles one request. Known methods go to the generated processor; an unknown
// method with a plausible name and well-formed arguments gets Thrift's UNKNOWN_METHOD
// exception, as HiveServer2 answers it; anything else (a malformed name or arguments, too
// many unknown calls in a row) is an error that ends the connection. A panic in a handler
// ends this connection, not the bridge.
func processOne(ctx context.Context, proc *hiveserver.TCLIServiceProcessor, in, out thrift.TProtocol, unknown *int) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("internal error while handling a request: %v", r)
		}
	}()
	name, typeID, seqID, err := in.ReadMessageBegin(ctx)
	if err != nil {
		return false, err
	}
	if typeID != thrift.CALL && typeID != thrift.ONEWAY {
		return false, thrift.NewTProtocolExceptionWithType(thrift.INVALID_DATA, fmt.Errorf("message type %d, want a call", typeID))
	}
	if fn, known := proc.GetProcessorFunction(name); known {
		*unknown = 0
		return fn.Process(ctx, seqID, in, out)
	}
	if !plausibleMethod(name) {
		return false, thrift.NewTProtocolExceptionWithType(thrift.INVALID_DATA, fmt.Errorf("malformed method name %q", name))
	}
	if *unknown++; *unknown > maxUnknownInARow {
		return false, thrift.NewTApplicationException(thrift.UNKNOWN_METHOD, fmt.Sprintf("%d unknown methods in a row, the last %q", *unknown, name))
	}
	if err := in.Skip(ctx, thrift.STRUCT); err != nil {
		return false, err
	}
	if err := in.ReadMessageEnd(ctx); err != nil {
		return false, err
	}
	x := thrift.NewTApplicationException(thrift.UNKNOWN_METHOD, "Unknown function "+name)
	if err := out.WriteMessageBegin(ctx, name, thrift.EXCEPTION, seqID); err != nil {
		return false, err
	}
	if err := x.Write(ctx, out); err != nil {
		return false, err
	}
	if err := out.WriteMessageEnd(ctx); err != nil {
		return false, err
	}
	return true, out.Flush(ctx)
}

// plausibleMethod reports whether name could be a Thrift method: 1 to 64 letters, digits
// and underscores.
func plausibleMethod(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// isClientGone reports a normal disconnect, which is not worth a log line.
func isClientGone(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var te thrift.TTransportException
	if errors.As(err, &te) && te.TypeId() == thrift.END_OF_FILE {
		return true
	}
	return false
}

// connInfo is what a request knows of its connection.
type connInfo struct {
	remote        string
	user          string // from SASL or HTTP auth; empty for NOSASL
	authenticated bool
	http          bool // HTTP transport: sessions outlive the request

	// mu guards sessions.
	mu       sync.Mutex
	sessions map[string]struct{} // session handle keys opened on this connection
}

type connInfoKey struct{}

func withConnInfo(ctx context.Context, ci *connInfo) context.Context {
	return context.WithValue(ctx, connInfoKey{}, ci)
}

func connInfoFrom(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connInfoKey{}).(*connInfo)
	return ci
}

func (ci *connInfo) addSession(key string) {
	if ci.http {
		return
	}
	ci.mu.Lock()
	defer ci.mu.Unlock()
	if ci.sessions == nil {
		ci.sessions = map[string]struct{}{}
	}
	ci.sessions[key] = struct{}{}
}

func (ci *connInfo) removeSession(key string) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	delete(ci.sessions, key)
}

func (ci *connInfo) takeSessions() []string {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	out := make([]string, 0, len(ci.sessions))
	for k := range ci.sessions {
		out = append(out, k)
	}
	ci.sessions = nil
	return out
}
