package thriftfront

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
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
	// Kerberos, when set, offers SASL GSSAPI on the binary transport and SPNEGO
	// (Authorization: Negotiate) on HTTP, beside PLAIN and Basic; pass it through
	// auth.Guard.GSS so that ticket checks go through the failed-attempt backoff.
	Kerberos auth.GSSAcceptor
	// ProxyUsers lists who may act for whom: a session asking for hive.server2.proxy.user,
	// or a SASL authorization id naming another user, is refused unless listed.
	ProxyUsers auth.ProxyUsers
	// Admission holds the deny lists and the connection caps per user and address, shared
	// with the Spark Connect frontend; nil admits everyone. A binary connection counts from
	// accept to close, for its address from the start and for its user once SASL (or, for
	// NOSASL, OpenSession) names one; an HTTP session counts from OpenSession to its end.
	Admission *auth.Admission
	// LongPollingTimeout is how long GetOperationStatus waits for a running operation to end
	// before answering, as HiveServer2's hive.server2.long.polling.timeout, which a session
	// may set for itself when it opens. 0 answers at once.
	LongPollingTimeout time.Duration
	// Allocator holds the Arrow buffers of decoded results and metadata rows; nil means
	// memory.NewGoAllocator(). Tests pass a memory.CheckedAllocator to catch leaked buffers.
	Allocator memory.Allocator
	// Observer is told of connections, calls and failed logins (metrics); nil tells no one.
	Observer Observer
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

	// draining is closed by Shutdown (or Close): connections end once their call in flight
	// is answered, and an idle one ends at once, quietly.
	draining  chan struct{}
	drainOnce sync.Once
	inFlight  atomic.Int64 // calls being served

	// mu guards conns.
	mu    sync.Mutex
	conns map[net.Conn]*connState

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

// refuseConn tells a client why it is turned away (the server is full, its address is
// denied): a SASL BAD message, which Hive JDBC, PyHive and gohive show as the reason, for a
// client that starts SASL; a closed connection otherwise. The close lingers: the write side
// is shut and what the client still sends (its PLAIN response) is read and dropped, for up
// to two seconds, because a socket closed with unread bytes is reset, and the client could
// lose the answer.
func refuseConn(conn net.Conn, msg string) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var first [1]byte
	if n, _ := conn.Read(first[:]); n != 1 || first[0] != saslStart {
		return
	}
	_ = writeSASLMessage(conn, saslBad, []byte(msg))
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, maxSASLNegotiation))
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

// connState is what Shutdown needs to know of one connection.
type connState struct {
	// mu guards busy, and orders it against the wake-up deadline Shutdown sets on an idle
	// connection.
	mu   sync.Mutex
	busy bool // a request has begun to arrive and is being served
}

// NewServer returns a Server that serves handler.
func NewServer(cfg Config, handler *Handler, log *logrus.Entry) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, handler: handler, log: log.WithField("component", "thriftfront"), ctx: ctx, cancel: cancel,
		draining: make(chan struct{}), conns: map[net.Conn]*connState{}}
}

// stopping reports whether Shutdown or Close has begun: a connection that ends now was
// ended by the server, which is no client's fault and worth no warning.
func (s *Server) stopping() bool {
	select {
	case <-s.draining:
		return true
	default:
		return s.ctx.Err() != nil
	}
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
		if s.stopping() { // accepted as the listener was being closed
			s.mu.Unlock()
			_ = conn.Close()
			continue
		}
		if s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections {
			s.mu.Unlock()
			s.handler.cfg.Observer.ConnFailed(protoBinary, "limit")
			s.refused.log(s.log.WithField("limit", s.cfg.MaxConnections), "connection refused: the HiveServer2 binary port is at its connection limit")
			go refuseConn(conn, fmt.Sprintf("sparkbridge: too many connections (limit %d); try again later", s.cfg.MaxConnections))
			continue
		}
		cs := &connState{}
		s.conns[conn] = cs
		s.wg.Add(1) // under mu, so that Shutdown never waits while a connection is added
		s.mu.Unlock()
		s.handler.cfg.Observer.ConnOpened(protoBinary)
		go func() {
			defer s.wg.Done()
			defer s.handler.cfg.Observer.ConnClosed(protoBinary)
			s.serveConn(conn, cs)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

// InFlight is the number of calls being served on binary connections: during the drain,
// a call that has not returned yet (an OpenSession waiting for its engine, a metadata call, a
// fetch) is work in flight as much as a registered operation.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

// Shutdown ends every connection gracefully, at the end of the bridge's drain; close the
// listener first. A connection with no call in flight, or still in its handshake, is closed
// at once and quietly; one serving a call sends its reply and then closes. Sessions close
// with their connections. When ctx ends first, Close cuts off the rest, and Shutdown
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.drainOnce.Do(func() { close(s.draining) })
	s.mu.Lock()
	for c, cs := range s.conns {
		cs.mu.Lock()
		if !cs.busy {
			// Wakes its blocked read; the connection sees the drain and ends.
			_ = c.SetReadDeadline(time.Now())
		}
		cs.mu.Unlock()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	return err
}

// Close closes every connection (which closes their sessions), cancelling the calls in
// flight, and waits for them to end.
func (s *Server) Close() {
	s.drainOnce.Do(func() { close(s.draining) })
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serveConn runs one connection: transport detection, optional SASL, then requests until the
// client leaves or the server stops. Sessions opened on the connection are closed when it
// ends, as HiveServer2 does for the binary transport.
func (s *Server) serveConn(conn net.Conn, cs *connState) {
	defer conn.Close()
	log := s.log.WithField("remote", conn.RemoteAddr().String())
	// A denied address, or one at its cap, is turned away before its first byte is read.
	ticket, err := s.handler.cfg.Admission.Open(conn.RemoteAddr().String())
	if err != nil {
		s.handler.cfg.Observer.ConnFailed(protoBinary, refusalReason(err))
		log.WithError(err).Debug("connection refused by admission") // the admission reports refusals in aggregate
		refuseConn(conn, err.Error())
		return
	}
	defer ticket.Release() // after the connection's sessions are closed (deferred below)
	// Every deadline is set under cs.mu, then the drain checked: either Shutdown's wake-up
	// deadline comes after this one, or this connection sees the drain.
	cs.mu.Lock()
	_ = conn.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	cs.mu.Unlock()
	if s.stopping() {
		return
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	first, err := br.Peek(1)
	if err != nil {
		switch {
		case s.stopping():
			log.WithError(err).Debug("connection closed before its first byte by the shutdown")
		case !errors.Is(err, io.EOF):
			s.connLog("silent").log(log.WithError(err), "connection closed before the first byte")
		}
		return
	}

	var trans thrift.TTransport
	ci := &connInfo{remote: conn.RemoteAddr().String(), ticket: ticket}
	switch first[0] {
	case saslStart:
		// The check, a failed-attempt backoff included, ends with the handshake deadline.
		actx, cancel := context.WithTimeout(auth.WithClientAddr(s.ctx, conn.RemoteAddr().String()), s.cfg.HandshakeTimeout)
		id, proxy, mech, err := s.negotiateSASL(actx, br, conn, ticket.Admit)
		cancel()
		if err != nil {
			if auth.IsDenied(err) || auth.IsOverLimit(err) {
				log.WithError(err).Debug("closing connection: refused by admission")
				s.handler.cfg.Observer.ConnFailed(protoBinary, refusalReason(err))
				return
			}
			if errors.Is(err, auth.ErrBadCredentials) {
				// The auth guard reports refusals in aggregate.
				log.WithError(err).Debug("closing connection: authentication failed")
				s.handler.cfg.Observer.AuthFailed(protoBinary, mech)
				s.handler.cfg.Observer.ConnFailed(protoBinary, "auth")
				return
			}
			if s.stopping() {
				log.WithError(err).Debug("connection closed during its SASL negotiation by the shutdown")
				return
			}
			s.handler.cfg.Observer.ConnFailed(protoBinary, "handshake")
			s.connLog("sasl").log(log.WithError(err), "closing connection: SASL negotiation failed")
			return
		}
		ci.id, ci.authenticated, ci.proxyUser = id, true, proxy
		trans = newSASLTransport(conn, br, s.cfg.MaxFrameSize)
	case 0x80: // first byte of a strict binary-protocol message: NOSASL
		if !s.handler.cfg.Auth.TrustsClients() {
			s.handler.cfg.Observer.ConnFailed(protoBinary, "handshake")
			s.connLog("nosasl").log(log, fmt.Sprintf("closing connection: NOSASL carries no credentials and auth mode is %s; use SASL PLAIN", s.handler.cfg.Auth.Mode()))
			return
		}
		trans = newRawTransport(conn, br)
	default:
		s.handler.cfg.Observer.ConnFailed(protoBinary, "handshake")
		s.connLog("first-byte").log(log, fmt.Sprintf("closing connection: first byte 0x%02x is neither a SASL START nor a Thrift binary message", first[0]))
		return
	}
	// No deadline from here on but the wake-up Shutdown sets.
	cs.mu.Lock()
	_ = conn.SetDeadline(time.Time{})
	cs.mu.Unlock()
	if s.stopping() {
		return
	}

	conf := &thrift.TConfiguration{MaxMessageSize: int32(s.cfg.MaxFrameSize), MaxFrameSize: int32(s.cfg.MaxFrameSize)}
	pf := thrift.NewTBinaryProtocolFactoryConf(conf)
	prot := pf.GetProtocol(trans)
	in := newBoundedProtocol(prot, trans)
	proc := newProcessor(s.handler, pf)
	unknown := 0 // unknown methods called in a row
	ctx := withConnInfo(s.ctx, ci)
	defer s.handler.closeConnSessions(ci)

	// A blocked read or write ends when Close cuts the connection off.
	stop := context.AfterFunc(s.ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	for {
		// Wait for the next request with no call in flight: this is where Shutdown wakes an
		// idle connection, with a read deadline, and the connection ends without a word. A
		// SASL frame may already hold the next request.
		if !requestBuffered(trans) {
			if _, err := br.Peek(1); err != nil {
				switch {
				case s.stopping():
					log.WithError(err).Debug("idle connection closed by the shutdown")
				case !isClientGone(err):
					s.connLog("protocol").log(log.WithError(err), "closing connection: protocol error")
				}
				return
			}
		}
		cs.mu.Lock()
		cs.busy = true
		// A request arrived as Shutdown was waking the connection: it is served, and then
		// the connection ends.
		_ = conn.SetReadDeadline(time.Time{})
		cs.mu.Unlock()
		s.inFlight.Add(1)
		ok, err := processOne(ctx, proc, in, prot, &unknown)
		s.inFlight.Add(-1)
		cs.mu.Lock()
		cs.busy = false
		cs.mu.Unlock()
		if err != nil {
			if isClientGone(err) || s.ctx.Err() != nil {
				return // a client leaving, or Close cutting off a call
			}
			// Any protocol error ends the connection: after one, the rest of the stream
			// cannot be trusted to be framed as messages.
			s.connLog("protocol").log(log.WithError(err), "closing connection: protocol error")
			return
		}
		if !ok || s.stopping() {
			return // after a call answered during Shutdown, the connection ends
		}
	}
}

// negotiateSASL runs a SASL negotiation, PLAIN or (with Kerberos) GSSAPI, and returns the
// identity it proved, the user an authorization id asks to act as (empty: none) and the
// mechanism, lower case, for metrics.
func (s *Server) negotiateSASL(ctx context.Context, r io.Reader, w io.Writer, admit func(user string) error) (auth.Identity, string, string, error) {
	mech, err := readSASLStart(r)
	if err != nil {
		return auth.Identity{}, "", "", err
	}
	switch {
	case mech == "PLAIN":
		var id auth.Identity
		// A denied user, or one at a cap, is refused inside the exchange, so that the client
		// reads why.
		c, err := plainExchange(r, w, func(c plainCredentials) (err error) {
			if id, err = s.handler.checkPassword(ctx, c); err == nil {
				err = admit(id.User)
			}
			return err
		})
		if err != nil {
			return auth.Identity{}, "", "plain", err
		}
		return id, proxyTarget(c.AuthzID, id, ""), "plain", nil
	case mech == "GSSAPI" && s.cfg.Kerberos != nil:
		res, err := gssapiExchange(ctx, r, w, s.cfg.Kerberos)
		if err != nil {
			return auth.Identity{}, "", "gssapi", err
		}
		// GSSAPI has completed by now: a refused user's connection is closed.
		if err := admit(res.id.User); err != nil {
			return auth.Identity{}, "", "gssapi", err
		}
		return res.id, proxyTarget(res.authzid, res.id, res.principal), "gssapi", nil
	}
	return auth.Identity{}, "", "", refuseMechanism(w, mech, s.cfg.Kerberos != nil)
}

// requestBuffered reports whether a SASL frame already read holds (the start of) the next
// request, which the socket will not announce again.
func requestBuffered(trans thrift.TTransport) bool {
	st, ok := trans.(*saslTransport)
	return ok && st.RemainingBytes() > 0
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
	remote string
	// id is who SASL or HTTP auth proved the client is; empty for NOSASL.
	id            auth.Identity
	authenticated bool
	http          bool // HTTP transport: sessions outlive the request
	// ticket is the binary connection's admission: its address is counted, and its user once
	// known. Nil on HTTP, where each session holds its own.
	ticket *auth.Ticket

	// proxyUser is the user a SASL authorization id asked to act as; OpenSession checks it
	// against Config.ProxyUsers.
	proxyUser string

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

// refusalReason is the Observer's reason for an admission refusal: "denied" (a deny list)
// or "limit" (a connection cap).
func refusalReason(err error) string {
	if auth.IsDenied(err) {
		return "denied"
	}
	return "limit"
}
