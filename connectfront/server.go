package connectfront

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"io"
	"net"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/sparkbridge/sparkbridge/auth"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
	"github.com/sparkbridge/sparkbridge/translate"
)

// Sessions is what the frontend needs of the engine layer.
type Sessions interface {
	Open(ctx context.Context, req engine.SessionRequest) (*engine.Session, error)
	Taken(sessionID string) bool
}

// sessionHeaders are the request headers that carry session configuration. PySpark sends
// every unknown sc:// URL parameter as a header, so sc://host:15002/;sparkbridge.engine.subdomain=etl
// works as it does in HS2 session conf.
var sessionHeaders = []string{engine.ConfShareLevel, engine.ConfSubdomain, engine.ConfIdleTimeout}

// Config configures the Spark Connect frontend.
type Config struct {
	// MaxMessageSize bounds a single gRPC message in either direction, in bytes.
	MaxMessageSize int
	// Auth authenticates callers; nil means auth.None.
	Auth auth.Provider
	// Admission holds the deny lists and the connection caps per user and address, shared
	// with the HiveServer2 frontend; nil admits everyone. A gRPC connection counts from its
	// start to its end, for its address at once and for each user authenticated on it
	// (admission.go).
	Admission *auth.Admission
	// TLS, when set, serves TLS (the listener negotiates h2 by ALPN).
	TLS *tls.Config
	// ProtectedConf lists Spark conf keys (exact or path.Match patterns) that clients can
	// neither read nor change: their values are redacted and setting them is refused.
	ProtectedConf []string
	// Observer is told of connections, calls and failed logins (metrics); nil tells no one.
	Observer Observer
}

// DefaultConfig returns the defaults: 128 MiB messages, no TLS, auth NONE, and the engine
// secret plus anything named like a password, secret or token protected.
func DefaultConfig() Config {
	return Config{
		MaxMessageSize: 128 << 20,
		Auth:           auth.None{},
		ProtectedConf:  engine.ProtectedConf(),
	}
}

// Server implements SparkConnectService by forwarding to engines.
type Server struct {
	connectgrpc.UnimplementedSparkConnectServiceServer

	cfg      Config
	sessions Sessions
	log      *logrus.Entry
	grpc     *grpc.Server
	abort    *abortable
}

var _ connectgrpc.SparkConnectServiceServer = (*Server)(nil)

// New returns a Server; call Serve to accept connections.
func New(cfg Config, sessions Sessions, log *logrus.Entry) *Server {
	if cfg.Auth == nil {
		cfg.Auth = auth.None{}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	s := &Server{cfg: cfg, sessions: sessions, log: log.WithField("component", "connectfront"), abort: newAbortable()}
	obs := observer{cfg.Observer}
	opts := []grpc.ServerOption{}
	if cfg.Admission != nil {
		opts = append(opts, grpc.StatsHandler(admitter{a: cfg.Admission, obs: cfg.Observer}))
	}
	s.grpc = grpc.NewServer(append(opts,
		// The observer's interceptors come first, so that they see the status the client gets.
		grpc.ChainUnaryInterceptor(obs.unary, s.abort.unary),
		grpc.ChainStreamInterceptor(obs.stream, s.abort.stream),
		grpc.StatsHandler(obs),
		grpc.ForceServerCodecV2(newFrameCodec()),
		// A connection must finish its HTTP/2 and TLS handshake within 30 s.
		grpc.ConnectionTimeout(30*time.Second),
		grpc.MaxRecvMsgSize(cfg.MaxMessageSize),
		grpc.MaxSendMsgSize(cfg.MaxMessageSize),
		grpc.InitialWindowSize(8<<20),
		grpc.InitialConnWindowSize(16<<20),
		// Write result frames in large pieces: fewer syscalls per megabyte of Arrow.
		grpc.WriteBufferSize(256<<10),
	)...)
	connectgrpc.RegisterSparkConnectServiceServer(s.grpc, s)
	return s
}

// Serve accepts connections on ln until Stop or GracefulStop.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		tc := s.cfg.TLS.Clone()
		tc.NextProtos = []string{"h2"}
		ln = tls.NewListener(ln, tc)
	}
	return s.grpc.Serve(prefaceListener{Listener: ln, log: s.log, obs: s.cfg.Observer})
}

// Abort cancels every call in flight; each returns ABORTED, saying the bridge is going
// away, so that clients fail at once instead of retrying. The listener keeps serving until
// Stop: during a drain it is left open, so that clients can finish work already begun.
func (s *Server) Abort() { s.abort.cancel() }

// InFlight is the number of calls being served: during a drain, a ReattachExecute or an
// AnalyzePlan is work in flight as much as a registered operation.
func (s *Server) InFlight() int64 { return s.abort.inFlight.Load() }

// GracefulStop stops accepting and waits for in-flight calls; Stop cancels them.
func (s *Server) GracefulStop() { s.grpc.GracefulStop() }

// Stop closes every connection and cancels in-flight calls.
func (s *Server) Stop() { s.grpc.Stop() }

// identify authenticates the caller from its authorization header: a bearer token, or
// HTTP Basic credentials (a user name and password, for a password provider such as LDAP;
// PySpark sends them with sc://host:15002/;authorization=Basic%20<base64>). With auth mode
// NONE the client's user_id is trusted; a client that sends none is "anonymous".
func (s *Server) identify(ctx context.Context, uc *connect.UserContext) (auth.Identity, error) {
	// A connection from a denied address, or one at its cap, is refused before its
	// credentials are looked at; the user is admitted (deny list, caps) once known.
	ca := admission(ctx)
	if err := ca.refused(); err != nil {
		return auth.Identity{}, toStatus(err)
	}
	id, err := s.authenticate(ctx, uc)
	if err != nil {
		return auth.Identity{}, err
	}
	if err := ca.admit(id.User); err != nil {
		return auth.Identity{}, toStatus(err)
	}
	return id, nil
}

// authenticate checks the caller's credentials with the auth provider (see identify).
func (s *Server) authenticate(ctx context.Context, uc *connect.UserContext) (auth.Identity, error) {
	header := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			header = v[0]
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		ctx = auth.WithClientAddr(ctx, p.Addr.String())
	}
	scheme, cred, _ := strings.Cut(header, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		user, password, ok := parseBasic(cred)
		if !ok {
			return auth.Identity{}, status.Error(codes.Unauthenticated, "malformed Basic credentials: want base64 of \"user:password\"")
		}
		id, err := s.cfg.Auth.Password(ctx, user, password)
		return id, s.authError(err, "basic", "invalid user name or password")
	case header != "" && !strings.EqualFold(scheme, "Bearer"):
		return auth.Identity{}, status.Error(codes.Unauthenticated, "the authorization header must be \"Bearer <token>\" or \"Basic <base64 of user:password>\"")
	case header == "" && !s.cfg.Auth.TrustsClients():
		return auth.Identity{}, status.Error(codes.Unauthenticated, "authentication required: send \"authorization: Bearer <token>\" (PySpark: sc://host:15002/;token=...) or Basic credentials")
	}
	id, err := s.cfg.Auth.Token(ctx, cred, uc.GetUserId())
	return id, s.authError(err, "bearer", "invalid token")
}

// authError maps a provider's error: a refusal is Unauthenticated, with the provider's
// message when it says more than "invalid credentials" (a user outside the allowed groups);
// anything else (a directory that cannot be reached) is Internal, with the cause.
func (s *Server) authError(err error, kind, refusal string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrBadCredentials):
		s.cfg.Observer.AuthFailed(protoConnect, kind)
		if err != auth.ErrBadCredentials {
			refusal += ": " + err.Error()
		}
		return status.Error(codes.Unauthenticated, refusal)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, "authentication failed: "+err.Error())
}

// parseBasic decodes the credentials of an HTTP Basic authorization header.
func parseBasic(cred string) (user, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// session authenticates the caller and resolves its session. The session belongs to the
// authenticated user, and every request forwarded for it carries that user's context.
func (s *Server) session(ctx context.Context, uc *connect.UserContext, sessionID string) (*engine.Session, error) {
	id, err := s.identify(ctx, uc)
	if err != nil {
		return nil, err
	}
	if sessionID == "" {
		return nil, status.Error(codes.InvalidArgument, "session_id is required")
	}
	conf := map[string]string{}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, k := range sessionHeaders {
			if v := md.Get(k); len(v) > 0 {
				conf[k] = v[0]
			}
		}
	}
	req := engine.SessionRequest{User: id.User, Groups: id.Groups, AuthMechanism: id.Mechanism, Protocol: "connect", Transport: "grpc",
		SessionID: sessionID, Conf: conf}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		req.ClientAddr = p.Addr.String()
	}
	sess, err := s.sessions.Open(ctx, req)
	if engine.IsEngineLost(err) {
		return nil, sessionLost(sessionID, "") // a session already released for its dead engine
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return sess, nil
}

// bind authenticates the caller, resolves its session, rewrites the request's user context
// to the authenticated user and returns the client of the session's engine.
func (s *Server) bind(ctx context.Context, uc **connect.UserContext, sessionID string) (*engine.Session, connectgrpc.SparkConnectServiceClient, error) {
	sess, err := s.session(ctx, *uc, sessionID)
	if err != nil {
		return nil, nil, err
	}
	if sess.Err() != nil {
		// A Spark Connect session lives in its engine: temp views, cached data and confs
		// died with it. Moving it to a new engine would only fail later and obscurely
		// (PySpark sees the server-side session change), so the client hears it now.
		sess.Detach()
		return nil, nil, sessionLost(sess.ID, sess.EngineID())
	}
	*uc = asUser(sess, *uc)
	conn, err := sess.Conn(ctx)
	if err != nil {
		return nil, nil, toStatus(err)
	}
	raw, ok := conn.(rawConn)
	if !ok {
		return nil, nil, status.Errorf(codes.Internal, "the engine connection (%T) cannot relay Spark Connect calls", conn)
	}
	return sess, raw.Client(), nil
}

// rawConn is an engine connection that exposes its generated client (transport.Conn): the
// frontend relays calls through it unchanged.
type rawConn interface {
	Client() connectgrpc.SparkConnectServiceClient
}

// sessionLost is the answer to a call on a Spark Connect session whose engine has died:
// ABORTED, which clients do not retry, with Spark's error class for a closed session.
func sessionLost(id, engineID string) error {
	stopped := "the engine serving it stopped"
	if engineID != "" {
		stopped += " (" + engineID + ")"
	}
	msg := fmt.Sprintf("[INVALID_HANDLE.SESSION_CLOSED] Spark Connect session %s is lost: %s. "+
		"Its temp views, cached data and session confs went with the engine; create a new SparkSession to continue.", id, stopped)
	st, err := status.New(codes.Aborted, msg).WithDetails(&errdetails.ErrorInfo{
		Reason: "org.apache.spark.SparkSQLException",
		Domain: "org.apache.spark",
		Metadata: map[string]string{
			"errorClass": "INVALID_HANDLE.SESSION_CLOSED",
			"sqlState":   "HY000",
			"classes":    `["org.apache.spark.SparkSQLException"]`,
		},
	})
	if err != nil {
		return status.Error(codes.Aborted, msg)
	}
	return st.Err()
}

// asUser rewrites a request's user context to the authenticated user, keeping any extensions.
func asUser(sess *engine.Session, uc *connect.UserContext) *connect.UserContext {
	out := sess.UserContext()
	out.Extensions = uc.GetExtensions()
	return out
}

// engineErr passes an engine's own status through unchanged, and explains a transport
// failure when the session's engine has died.
func engineErr(sess *engine.Session, err error) error {
	if err == nil {
		return nil
	}
	explained := sess.Explain(transport.Wrap(err))
	if engine.IsEngineLost(explained) || status.Code(err) == codes.Unauthenticated {
		// The engine died, or refused the bridge's own credentials: the bridge's news,
		// not the engine's answer.
		return toStatus(explained)
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// toStatus maps an error the bridge produced to its gRPC status; it is the only such
// mapping. An engine-layer error's kind decides, whatever it wraps: a bridge-side fault (an
// engine that would not start, or refused the bridge's own credentials) never reaches the
// client as the status of a cause it cannot act on. Only KindSpark, the engine's own answer,
// keeps the engine's status with its details. An error that is already a status (the
// frontend's own) is returned as it is.
func toStatus(err error) error {
	var ee *engine.Error
	if !errors.As(err, &ee) {
		if _, ok := status.FromError(err); ok {
			return err
		}
		switch {
		case auth.IsDenied(err):
			return status.Error(codes.PermissionDenied, err.Error())
		case auth.IsOverLimit(err):
			return status.Error(codes.ResourceExhausted, err.Error())
		case errors.Is(err, context.Canceled):
			return status.Error(codes.Canceled, err.Error())
		case errors.Is(err, context.DeadlineExceeded):
			return status.Error(codes.DeadlineExceeded, err.Error())
		}
		return status.Error(codes.Internal, err.Error())
	}
	code := codes.Internal
	switch ee.Kind {
	case engine.KindSpark:
		var gs interface{ GRPCStatus() *status.Status }
		if errors.As(ee.Err, &gs) {
			return gs.GRPCStatus().Err()
		}
		code = codes.Unknown
	case engine.KindCanceled:
		code = codes.Canceled
	case engine.KindUnavailable:
		code = codes.Unavailable
	case engine.KindNotFound:
		code = codes.NotFound
	case engine.KindPermissionDenied:
		code = codes.PermissionDenied
	case engine.KindInvalidArgument:
		code = codes.InvalidArgument
	case engine.KindResourceExhausted:
		code = codes.ResourceExhausted
	case engine.KindShuttingDown:
		// Not UNAVAILABLE either: PySpark retries that for ten minutes.
		code = codes.Aborted
	case engine.KindEngineLost:
		// Not UNAVAILABLE: clients retry that, and a retry cannot bring the lost work back.
		code = codes.Aborted
	}
	return status.Error(code, err.Error())
}

// ExecutePlan forwards a plan execution and relays its result stream.
func (s *Server) ExecutePlan(req *connect.ExecutePlanRequest, stream grpc.ServerStreamingServer[connect.ExecutePlanResponse]) error {
	ctx := stream.Context()
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return err
	}
	if req.GetOperationId() == "" {
		// Every execution is registered under the id the engine runs it with; Spark would
		// pick a random one too, and returns it in every response.
		id := uuid.NewString()
		req.OperationId = &id
	}
	op, err := sess.StartOperation(engine.OperationSpec{ID: req.GetOperationId(), Kind: engine.KindExecute, Statement: translate.PlanSummary(req.GetPlan())})
	switch {
	case engine.KindOf(err) == engine.KindInvalidArgument:
		// The id is running already: the engine refuses the duplicate itself, and the
		// registered execution stays as it is.
		op = nil
	case err != nil:
		return toStatus(err)
	}
	ctx, cut := watchCancel(ctx, op)
	up, err := c.ExecutePlan(ctx, req, grpc.ForceCodecV2(newFrameCodec()))
	if err != nil {
		err = cutErr(cut(), false, engineErr(sess, err), sess, req.GetOperationId())
		endExecution(op, false, err)
		return err
	}
	complete, err := relayFrames(up, stream, func(err error) error { return engineErr(sess, err) }, op)
	// Spark sends ResultComplete to reattachable executions only: the stream of any other
	// is complete when it ends cleanly.
	complete = complete || err == nil && !reattachable(req)
	err = cutErr(cut(), complete, err, sess, req.GetOperationId())
	endExecution(op, complete, err)
	return err
}

// reattachable reports whether the client asked for a reattachable execution, whose stream
// may end before its result does (the client then reattaches).
func reattachable(req *connect.ExecutePlanRequest) bool {
	for _, o := range req.GetRequestOptions() {
		if o.GetReattachOptions().GetReattachable() {
			return true
		}
	}
	return false
}

// cancelGrace is how long an execution an operator cancelled gets to end with the engine's
// own answer to the interrupt (Spark's OPERATION_CANCELED error, relayed as it is) before the
// bridge ends the call itself.
var cancelGrace = 2 * time.Second

// watchCancel returns the context of the engine call of op's execution (op may be nil),
// which ends cancelGrace after an operator cancels op (engine.Operation.Cancel has asked the
// engine to interrupt it by then), and a function that ends the watch, waiting for its
// goroutine, and reports whether the call was cut that way.
func watchCancel(ctx context.Context, op *engine.Operation) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	if op == nil {
		return ctx, func() bool { cancel(); return false }
	}
	done, exited := make(chan struct{}), make(chan struct{})
	cutOff := false // written by the goroutine, read after exited
	go func() {
		defer close(exited)
		select {
		case <-op.Cancelled():
		case <-done:
			return
		}
		t := time.NewTimer(cancelGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cutOff = true
			cancel()
		case <-done:
		}
	}()
	return ctx, func() bool {
		close(done)
		<-exited
		cancel()
		return cutOff
	}
}

// cutErr is the error of a call watchCancel cut: the cancellation, not the cut's context
// error. A stream that completed as the cut came keeps its result. Cutting the call alone
// leaves a reattachable execution running on the engine, which keeps it for a reattach: the
// engine is asked again to interrupt it (the first interrupt may have reached it before the
// execution did).
func cutErr(cut, complete bool, err error, sess *engine.Session, operationID string) error {
	if !cut || err == nil && complete {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = sess.Interrupt(ctx, operationID)
	return toStatus(engine.ErrCancelledByAdmin)
}

// endExecution records how the stream of a registered execution (nil: none) ended. An
// execution whose stream ended cleanly before its ResultComplete is still running on the
// engine (a reattachable execution, whose client reattaches): it stays registered, and the
// idle reaper ends it if no reattach comes.
func endExecution(op *engine.Operation, complete bool, err error) {
	if op == nil || err == nil && !complete {
		return
	}
	if st := opState(err); st == engine.OpError {
		op.Fail(status.Convert(err).Message()) // what the client reads, for the operators' recent failures
	} else {
		op.SetState(st)
	}
	op.End()
}

// opState is the final state of an execution that ended with err.
func opState(err error) string {
	switch status.Code(err) {
	case codes.OK:
		return engine.OpFinished
	case codes.Canceled:
		return engine.OpCanceled
	}
	return engine.OpError
}

// ReattachExecute forwards a reattach and relays the rest of the result stream.
func (s *Server) ReattachExecute(req *connect.ReattachExecuteRequest, stream grpc.ServerStreamingServer[connect.ExecutePlanResponse]) error {
	ctx := stream.Context()
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return err
	}
	op := sess.Operation(req.GetOperationId())
	if op == nil {
		// A reattach to an execution this bridge has not seen (or has forgotten): it is
		// registered from here on.
		op, err = sess.StartOperation(engine.OperationSpec{ID: req.GetOperationId(), Kind: engine.KindExecute, Statement: "reattached execution"})
		if err != nil {
			op = nil
		}
	}
	ctx, cut := watchCancel(ctx, op)
	up, err := c.ReattachExecute(ctx, req, grpc.ForceCodecV2(newFrameCodec()))
	if err != nil {
		err = cutErr(cut(), false, engineErr(sess, err), sess, req.GetOperationId())
		endExecution(op, false, err)
		return err
	}
	complete, err := relayFrames(up, stream, func(err error) error { return engineErr(sess, err) }, op)
	err = cutErr(cut(), complete, err, sess, req.GetOperationId())
	endExecution(op, complete, err)
	return err
}

// AnalyzePlan forwards an analysis request.
func (s *Server) AnalyzePlan(ctx context.Context, req *connect.AnalyzePlanRequest) (*connect.AnalyzePlanResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	resp, err := c.AnalyzePlan(ctx, req)
	return resp, engineErr(sess, err)
}

// Config forwards a session configuration request.
func (s *Server) Config(ctx context.Context, req *connect.ConfigRequest) (*connect.ConfigResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	warnings, err := s.checkConfWrite(req.GetOperation())
	if err != nil {
		return nil, err
	}
	resp, err := c.Config(ctx, req)
	if err != nil {
		return nil, engineErr(sess, err)
	}
	s.redactConf(resp)
	resp.Warnings = append(resp.Warnings, warnings...)
	return resp, nil
}

// AddArtifacts forwards an artifact upload stream. The session is taken from the first
// message; every message is relayed as it arrives.
func (s *Server) AddArtifacts(stream grpc.ClientStreamingServer[connect.AddArtifactsRequest, connect.AddArtifactsResponse]) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err == io.EOF {
		return status.Error(codes.InvalidArgument, "AddArtifacts stream carried no request")
	}
	if err != nil {
		return err
	}
	sess, c, err := s.bind(ctx, &first.UserContext, first.GetSessionId())
	if err != nil {
		return err
	}
	up, err := c.AddArtifacts(ctx)
	if err != nil {
		return engineErr(sess, err)
	}
	for req := first; ; {
		if req.GetSessionId() != first.GetSessionId() {
			return status.Error(codes.InvalidArgument, "AddArtifacts stream changed session_id")
		}
		req.UserContext = first.UserContext
		if err := up.Send(req); err != nil {
			if err == io.EOF { // the engine ended the stream; its status comes from CloseAndRecv
				break
			}
			return engineErr(sess, err)
		}
		req, err = stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	resp, err := up.CloseAndRecv()
	if err != nil {
		return engineErr(sess, err)
	}
	return stream.SendAndClose(resp)
}

// ArtifactStatus forwards an artifact status query.
func (s *Server) ArtifactStatus(ctx context.Context, req *connect.ArtifactStatusesRequest) (*connect.ArtifactStatusesResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	resp, err := c.ArtifactStatus(ctx, req)
	return resp, engineErr(sess, err)
}

// Interrupt forwards an interrupt.
func (s *Server) Interrupt(ctx context.Context, req *connect.InterruptRequest) (*connect.InterruptResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	resp, err := c.Interrupt(ctx, req)
	return resp, engineErr(sess, err)
}

// ReleaseExecute forwards the release of a reattachable execution.
func (s *Server) ReleaseExecute(ctx context.Context, req *connect.ReleaseExecuteRequest) (*connect.ReleaseExecuteResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	resp, err := c.ReleaseExecute(ctx, req)
	return resp, engineErr(sess, err)
}

// ReleaseSession forwards the release and then forgets the session.
func (s *Server) ReleaseSession(ctx context.Context, req *connect.ReleaseSessionRequest) (*connect.ReleaseSessionResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	resp, err := c.ReleaseSession(ctx, req)
	if err != nil {
		return nil, engineErr(sess, err)
	}
	sess.Detach()
	return resp, nil
}

// FetchErrorDetails forwards an error-details query.
func (s *Server) FetchErrorDetails(ctx context.Context, req *connect.FetchErrorDetailsRequest) (*connect.FetchErrorDetailsResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	resp, err := c.FetchErrorDetails(ctx, req)
	return resp, engineErr(sess, err)
}

// GetStatus forwards a status query.
func (s *Server) GetStatus(ctx context.Context, req *connect.GetStatusRequest) (*connect.GetStatusResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	resp, err := c.GetStatus(ctx, req)
	return resp, engineErr(sess, err)
}

// CloneSession forwards a clone and registers the new session for the same user on the same
// engine. A requested new id already in use on the bridge is refused before the engine sees it.
func (s *Server) CloneSession(ctx context.Context, req *connect.CloneSessionRequest) (*connect.CloneSessionResponse, error) {
	sess, c, err := s.bind(ctx, &req.UserContext, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	if id := req.GetNewSessionId(); id != "" && s.sessions.Taken(id) {
		return nil, status.Errorf(codes.PermissionDenied, "session id %s is already in use", id)
	}
	resp, err := c.CloneSession(ctx, req)
	if err != nil {
		return nil, engineErr(sess, err)
	}
	if _, err := sess.Clone(resp.GetNewSessionId()); err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}
