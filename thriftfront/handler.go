package thriftfront

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/translate"
)

// Sessions is what the frontend needs of the engine layer.
type Sessions interface {
	Open(ctx context.Context, req engine.SessionRequest) (*engine.Session, error)
}

// Handler implements TCLIService over engine sessions. It is shared by every connection.
type Handler struct {
	cfg      Config
	sessions Sessions
	log      *logrus.Entry
	mem      memory.Allocator

	// mu guards sess, ops and keywords.
	mu sync.Mutex
	// keywords caches each Spark version's SQL keywords for GetInfo.
	keywords map[string]string
	// stopping is closed by StopWaiting, at shutdown.
	stopping chan struct{}
	stopOnce sync.Once
	sess     map[string]*session   // by handle GUID
	ops      map[string]*operation // by handle GUID
	// watchers are the goroutines that release the admission of an HTTP session the engine
	// layer ends; Close waits for them.
	watchers sync.WaitGroup
}

var _ hiveserver.TCLIService = (*Handler)(nil)

// NewHandler returns a Handler that opens sessions through sessions.
func NewHandler(cfg Config, sessions Sessions, log *logrus.Entry) *Handler {
	if cfg.Auth == nil {
		cfg.Auth = auth.None{}
	}
	if cfg.Allocator == nil {
		cfg.Allocator = memory.NewGoAllocator()
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &Handler{
		cfg: cfg, sessions: sessions, log: log.WithField("component", "thriftfront"),
		mem:  cfg.Allocator,
		sess: map[string]*session{}, ops: map[string]*operation{},
		stopping: make(chan struct{}),
	}
}

// session is one HS2 session: a handle bound to an engine session.
type session struct {
	guid     []byte
	secret   []byte
	user     string
	protocol hiveserver.TProtocolVersion
	es       *engine.Session
	conn     *connInfo
	// longPoll is the session's hive.server2.long.polling.timeout.
	longPoll time.Duration
	// ticket is an HTTP session's admission, released when the session ends (a binary
	// session's connection holds the ticket instead); closed is closed then too.
	ticket *auth.Ticket
	closed chan struct{}
}

func newUUID() uuid.UUID { return uuid.New() }

// checkPassword validates SASL PLAIN credentials with the auth provider and returns the
// identity they prove. With auth mode NONE, as in HiveServer2, every user and password is
// accepted and the user name is the identity.
func (h *Handler) checkPassword(ctx context.Context, c plainCredentials) (auth.Identity, error) {
	return h.cfg.Auth.Password(ctx, c.User, c.Password)
}

func (h *Handler) lookupSession(hd *hiveserver.TSessionHandle) (*session, error) {
	if hd == nil || hd.SessionId == nil {
		return nil, invalidHandle("session")
	}
	h.mu.Lock()
	s, ok := h.sess[string(hd.SessionId.GUID)]
	h.mu.Unlock()
	if !ok || !bytes.Equal(hd.SessionId.Secret, s.secret) {
		return nil, invalidHandle("session")
	}
	select {
	case <-s.es.Done(): // ended by the engine layer (idle reaper, administrator): free what it holds here
		h.closeSession(s)
		return nil, &wireError{msg: "Invalid session handle: the session was " + s.es.EndReason(), sqlState: "HY000", code: codeInvalidHandle}
	default:
	}
	return s, nil
}

func (h *Handler) lookupOp(hd *hiveserver.TOperationHandle) (*operation, error) {
	if hd == nil || hd.OperationId == nil {
		return nil, invalidHandle("operation")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	op, ok := h.ops[string(hd.OperationId.GUID)]
	if !ok || !bytes.Equal(hd.OperationId.Secret, op.sess.secret) {
		return nil, invalidHandle("operation")
	}
	return op, nil
}

// OpenSession opens an engine session for the connection's user, launching the user's engine
// on first use.
func (h *Handler) OpenSession(ctx context.Context, req *hiveserver.TOpenSessionReq) (*hiveserver.TOpenSessionResp, error) {
	if req == nil {
		return &hiveserver.TOpenSessionResp{Status: errStatus(missingRequest("OpenSession")), ServerProtocolVersion: h.cfg.ServerProtocol}, nil
	}
	resp := &hiveserver.TOpenSessionResp{ServerProtocolVersion: h.cfg.ServerProtocol}
	ci := connInfoFrom(ctx)
	var id auth.Identity
	if ci != nil && ci.authenticated {
		id = ci.id
	} else if req.Username != nil {
		id = auth.Identity{User: *req.Username, Mechanism: h.cfg.Auth.Mode()}
	}
	if id.User == "" {
		id.User = "anonymous"
	}
	id, err := h.impersonate(ctx, ci, id, req.Configuration)
	if err != nil {
		resp.Status = errStatus(err)
		return resp, nil
	}
	user := id.User
	proto := req.ClientProtocol
	if proto > h.cfg.ServerProtocol {
		proto = h.cfg.ServerProtocol
	}
	resp.ServerProtocolVersion = proto

	ticket, err := h.admit(ci, user)
	if err != nil {
		resp.Status = errStatus(err)
		return resp, nil
	}
	sr := engine.SessionRequest{User: user, Groups: id.Groups, AuthMechanism: id.Mechanism, Protocol: "thrift", Transport: "binary", Conf: req.Configuration}
	if ci != nil {
		sr.ClientAddr = ci.remote
		if ci.http {
			sr.Transport = "http"
		}
	}
	es, err := h.sessions.Open(ctx, sr)
	if err != nil {
		ticket.Release()
		resp.Status = errStatus(err)
		return resp, nil
	}
	// The handle is the bridge's own: several HS2 sessions may join one engine session.
	guid := uuid.New()
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	s := &session{guid: guid[:], secret: secret, user: user, protocol: proto, es: es, conn: ci,
		longPoll: h.cfg.LongPollingTimeout, ticket: ticket, closed: make(chan struct{})}
	fail := func(err error) (*hiveserver.TOpenSessionResp, error) {
		_ = es.Close(context.Background())
		ticket.Release()
		resp.Status = errStatus(err)
		return resp, nil
	}
	if v, ok := hiveConf(req.Configuration, longPollingKey); ok {
		d, err := hiveDuration(v)
		if err != nil {
			return fail(invalidRequest(longPollingKey + ": " + err.Error()))
		}
		s.longPoll = min(d, max(h.cfg.LongPollingTimeout, maxSessionLongPoll))
	}

	if err := h.applyConf(ctx, s, sessionConf(req.Configuration)); err != nil {
		return fail(err)
	}
	if db := req.Configuration["use:database"]; db != "" && !strings.EqualFold(db, "default") {
		if err := h.runToCompletion(ctx, s, "USE "+quoteIdent(db)); err != nil {
			return fail(err)
		}
	}

	h.mu.Lock()
	h.sess[string(s.guid)] = s
	if ticket != nil {
		// An HTTP session may be left by its client: when the engine layer ends it (idle, an
		// operator), its admission is released at once. The session itself is freed at the
		// client's next call, which is told why it ended.
		h.watchers.Add(1)
		go func() {
			defer h.watchers.Done()
			select {
			case <-es.Done():
				ticket.Release()
			case <-s.closed:
			}
		}()
	}
	h.mu.Unlock()
	if ci != nil {
		ci.addSession(string(s.guid))
	}
	h.log.WithFields(logrus.Fields{"user": user, "session": es.ID, "engine": es.EngineID(), "protocol": int(proto)}).Info("thrift session opened")
	resp.Status = okStatus()
	resp.SessionHandle = &hiveserver.TSessionHandle{SessionId: &hiveserver.THandleIdentifier{GUID: s.guid, Secret: s.secret}}
	resp.Configuration = map[string]string{
		"hive.server2.thrift.resultset.default.fetch.size": strconv.Itoa(h.cfg.DefaultFetchSize),
	}
	return resp, nil
}

// proxyUserKey is the session setting with which a client asks to act for another user, as
// HiveServer2's hive.server2.proxy.user.
const proxyUserKey = "hive.server2.proxy.user"

// impersonate applies a request to act for another user, from the session's
// hive.server2.proxy.user or the connection's SASL authorization id: the proxy-user
// allow-list decides, whatever the mechanism that proved id.
func (h *Handler) impersonate(_ context.Context, ci *connInfo, id auth.Identity, conf map[string]string) (auth.Identity, error) {
	target := ""
	if ci != nil {
		target = ci.proxyUser
	}
	if v, ok := hiveConf(conf, proxyUserKey); ok && v != "" {
		if target != "" && v != target {
			return auth.Identity{}, accessDenied(fmt.Sprintf("the SASL authorization id asks to act as %s and %s as %s; ask for one user", target, proxyUserKey, v))
		}
		target = v
	}
	if target == "" || target == id.User {
		return id, nil
	}
	pid, err := h.cfg.ProxyUsers.Impersonate(id, target)
	if err != nil {
		h.log.WithFields(logrus.Fields{"user": id.User, "proxy_user": target}).Warn("impersonation refused")
		return auth.Identity{}, accessDenied("Failed to validate proxy privilege: " + err.Error())
	}
	h.log.WithFields(logrus.Fields{"user": id.User, "proxy_user": target, "mechanism": id.Mechanism}).Info("session opened on behalf of another user")
	return pid, nil
}

// runToCompletion executes a statement whose result is not wanted; it ends with ctx.
func (h *Handler) runToCompletion(ctx context.Context, s *session, stmt string) error {
	op := newOperation(s, stmt, h.mem)
	stop := context.AfterFunc(ctx, op.cancel)
	op.run()
	stop()
	defer op.close()
	if st, err, _ := op.status(); st == hiveserver.TOperationState_ERROR_STATE {
		return err
	}
	return nil
}

// sessionConf picks the engine session confs out of an OpenSession configuration:
// set:hiveconf:key (the JDBC URL's ?key=value part), bare spark.* keys, and set:hivevar:name
// (the #name=value part), which become confs so that Spark substitutes ${name} and
// ${hivevar:name} in later statements. The bridge's own sparkbridge.* keys stay out.
func sessionConf(conf map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range conf {
		switch {
		case strings.HasPrefix(k, "set:hiveconf:"):
			k = strings.TrimPrefix(k, "set:hiveconf:")
			if k == proxyUserKey { // the bridge's to act on, not a Spark conf
				continue
			}
		case strings.HasPrefix(k, "set:hivevar:"):
			k = strings.TrimPrefix(k, "set:hivevar:")
		case strings.HasPrefix(k, "spark."):
		default:
			continue
		}
		if !strings.HasPrefix(k, "sparkbridge.") {
			out[k] = v
		}
	}
	return out
}

// applyConf sets confs on the engine session, one key at a time so that the error names the
// key Spark refused.
func (h *Handler) applyConf(ctx context.Context, s *session, conf map[string]string) error {
	if len(conf) == 0 {
		return nil
	}
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := conf[k]
		if err := s.es.SetConf(ctx, k, v); err != nil {
			if cls := engine.ErrorClass(err); strings.HasPrefix(cls, "CANNOT_MODIFY") {
				// A launch-time conf (spark.executor.memory, say): it took effect when the
				// engine started, if the allow-list let it; it cannot change now.
				h.log.WithFields(logrus.Fields{"session": s.es.ID, "key": k, "error_class": cls}).Info("engine refused a session conf")
				continue
			}
			return fmt.Errorf("setting %s: %w", k, err)
		}
	}
	return nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// CloseSession closes the session's operations and releases its engine session.
func (h *Handler) CloseSession(ctx context.Context, req *hiveserver.TCloseSessionReq) (*hiveserver.TCloseSessionResp, error) {
	if req == nil {
		return &hiveserver.TCloseSessionResp{Status: errStatus(missingRequest("CloseSession"))}, nil
	}
	s, err := h.lookupSession(req.SessionHandle)
	if err != nil {
		return &hiveserver.TCloseSessionResp{Status: errStatus(err)}, nil
	}
	h.closeSession(s)
	return &hiveserver.TCloseSessionResp{Status: okStatus()}, nil
}

func (h *Handler) closeSession(s *session) {
	h.mu.Lock()
	if h.sess[string(s.guid)] != s {
		h.mu.Unlock()
		return
	}
	delete(h.sess, string(s.guid))
	h.mu.Unlock()
	if s.closed != nil {
		close(s.closed)
	}
	defer s.ticket.Release()
	if s.conn != nil {
		s.conn.removeSession(string(s.guid))
	}
	h.mu.Lock()
	var ops []*operation
	for key, op := range h.ops {
		if op.sess == s {
			ops = append(ops, op)
			delete(h.ops, key)
		}
	}
	h.mu.Unlock()
	for _, op := range ops {
		op.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.es.Close(ctx); err != nil {
		h.log.WithError(err).WithField("session", s.es.ID).Info("releasing engine session failed")
	}
	h.log.WithFields(logrus.Fields{"user": s.user, "session": s.es.ID}).Info("thrift session closed")
}

// admit applies the admission to a session about to open. On a binary connection the
// connection is what counts: its user is admitted on the connection's ticket (again, at no
// cost, after SASL; for the first time with NOSASL, whose user OpenSession names). Over
// HTTP, which has no connection to speak of, the session counts as one: it gets a ticket of
// its own, released when it ends.
func (h *Handler) admit(ci *connInfo, user string) (*auth.Ticket, error) {
	if ci == nil {
		return nil, nil
	}
	if !ci.http {
		return nil, ci.ticket.Admit(user)
	}
	t, err := h.cfg.Admission.Open(ci.remote)
	if err != nil {
		return nil, err
	}
	if err := t.Admit(user); err != nil {
		t.Release()
		return nil, err
	}
	return t, nil
}

// closeConnSessions closes the sessions a connection opened, when it ends.
func (h *Handler) closeConnSessions(ci *connInfo) {
	for _, key := range ci.takeSessions() {
		h.mu.Lock()
		s := h.sess[key]
		h.mu.Unlock()
		if s != nil {
			h.closeSession(s)
		}
	}
}

func (h *Handler) opHandle(op *operation, hasResult bool) *hiveserver.TOperationHandle {
	return &hiveserver.TOperationHandle{
		OperationId:   &hiveserver.THandleIdentifier{GUID: op.guid, Secret: op.sess.secret},
		OperationType: hiveserver.TOperationType_EXECUTE_STATEMENT,
		HasResultSet:  hasResult,
	}
}

// ExecuteStatement runs a statement on the session's engine: synchronously, or in the
// background when the client asks for runAsync.
func (h *Handler) ExecuteStatement(ctx context.Context, req *hiveserver.TExecuteStatementReq) (*hiveserver.TExecuteStatementResp, error) {
	if req == nil {
		return &hiveserver.TExecuteStatementResp{Status: errStatus(missingRequest("ExecuteStatement"))}, nil
	}
	s, err := h.lookupSession(req.SessionHandle)
	if err != nil {
		return &hiveserver.TExecuteStatementResp{Status: errStatus(err)}, nil
	}
	stmt := strings.TrimSpace(req.Statement)
	stmt = strings.TrimRight(stmt, "; \t\r\n")
	if stmt == "" {
		return &hiveserver.TExecuteStatementResp{Status: errStatus(invalidRequest("empty statement"))}, nil
	}
	if err := h.applyConf(ctx, s, req.ConfOverlay); err != nil {
		return &hiveserver.TExecuteStatementResp{Status: errStatus(err)}, nil
	}
	op := newOperation(s, stmt, h.mem)
	op.timeout = time.Duration(req.QueryTimeout) * time.Second
	if err := h.register(op, engine.KindStatement, stmt); err != nil {
		return &hiveserver.TExecuteStatementResp{Status: errStatus(err)}, nil
	}

	if req.RunAsync {
		go op.run()
		return &hiveserver.TExecuteStatementResp{Status: okStatus(), OperationHandle: h.opHandle(op, true)}, nil
	}
	// A synchronous statement ends with its call: the client gone, or the server stopping.
	stop := context.AfterFunc(ctx, op.cancel)
	op.run()
	stop()
	st, opErr, schema := op.status()
	if st == hiveserver.TOperationState_ERROR_STATE || st == hiveserver.TOperationState_CANCELED_STATE || st == hiveserver.TOperationState_TIMEDOUT_STATE {
		h.detachOp(op)
		op.close()
		if opErr == nil {
			opErr = invalidRequest("operation cancelled")
		}
		return &hiveserver.TExecuteStatementResp{Status: errStatus(opErr)}, nil
	}
	return &hiveserver.TExecuteStatementResp{Status: okStatus(), OperationHandle: h.opHandle(op, schema != nil && len(schema.Columns) > 0)}, nil
}

// register records op in the engine layer's registry (which enforces the per-session limit
// and expires it when idle) and makes it reachable by its handle.
func (h *Handler) register(op *operation, kind, statement string) error {
	eop, err := op.sess.es.StartOperation(engine.OperationSpec{ID: op.id, Kind: kind, Statement: statement})
	if err != nil {
		return err
	}
	op.eop = eop
	h.mu.Lock()
	open := h.sess[string(op.sess.guid)] == op.sess
	if open {
		h.ops[string(op.guid)] = op
	}
	h.mu.Unlock()
	if !open { // the session closed meanwhile, on another connection or call
		eop.End()
		return invalidHandle("session")
	}
	// The registry only says the operation expired, or that an operator cancelled it
	// (engine.Operation.Cancel, which has interrupted the engine execution already);
	// freeing or cancelling it is the frontend's job, on a goroutine the operation owns.
	go func() {
		cancelled := eop.Cancelled()
		for {
			select {
			case <-cancelled:
				cancelled = nil
				op.logf("Cancelled by an administrator")
				op.cancelUnlessFailed()
				op.cancel()
			case <-eop.Expired():
				h.detachOp(op)
				op.close()
				return
			case <-op.closed:
				return
			}
		}
	}()
	return nil
}

// detachOp makes op unreachable by its handle.
func (h *Handler) detachOp(op *operation) {
	h.mu.Lock()
	if h.ops[string(op.guid)] == op {
		delete(h.ops, string(op.guid))
	}
	h.mu.Unlock()
}

// GetOperationStatus reports an operation's state, with Spark's SQLSTATE on errors.
func (h *Handler) GetOperationStatus(ctx context.Context, req *hiveserver.TGetOperationStatusReq) (*hiveserver.TGetOperationStatusResp, error) {
	if req == nil {
		return &hiveserver.TGetOperationStatusResp{Status: errStatus(missingRequest("GetOperationStatus"))}, nil
	}
	op, err := h.lookupOp(req.OperationHandle)
	if err != nil {
		return &hiveserver.TGetOperationStatusResp{Status: errStatus(err)}, nil
	}
	progress := req.GetProgressUpdate != nil && *req.GetProgressUpdate
	h.longPoll(ctx, op, progress)
	st, opErr, schema := op.status()
	resp := &hiveserver.TGetOperationStatusResp{Status: okStatus(), OperationState: &st}
	op.mu.Lock()
	started := op.started.UnixMilli()
	resp.OperationStarted = &started
	if !op.completed.IsZero() {
		done := op.completed.UnixMilli()
		resp.OperationCompleted = &done
	}
	op.mu.Unlock()
	if schema != nil {
		has := len(schema.Columns) > 0
		resp.HasResultSet = &has
	}
	if progress {
		resp.ProgressUpdateResponse = op.progressUpdate()
	}
	if (st == hiveserver.TOperationState_ERROR_STATE || st == hiveserver.TOperationState_TIMEDOUT_STATE) && opErr != nil {
		we := toWire(opErr)
		resp.ErrorMessage, resp.SqlState, resp.ErrorCode = &we.msg, &we.sqlState, &we.code
	}
	return resp, nil
}

// longPollingKey is HiveServer2's conf for the GetOperationStatus wait.
const longPollingKey = "hive.server2.long.polling.timeout"

// longPoll waits, as Spark Thrift Server does, for a running operation to end before its
// status is read, up to the session's long polling timeout, so that a short statement reads
// FINISHED on the first poll (clients such as dbt and Superset sleep seconds after any other
// answer). It returns at once for an operation that has ended, and early when the operation
// ends, the call's connection goes, or the bridge shuts down. It holds no lock while it waits.
//
// A client that asks for progress (beeline, to draw its progress bar, but PyHive too, and so
// dbt and Superset) waits the same way while the operation is younger than the timeout; after
// that, when the operation has run longer than any client would wait on Spark Thrift Server
// anyway, the wait also ends at the next progress report and is bounded by Hive's step (500 ms
// more per 10 s run), so the bar moves as Spark's stages do.
func (h *Handler) longPoll(ctx context.Context, op *operation, progress bool) {
	select {
	case <-op.ready:
		return
	default:
	}
	wait := op.sess.longPoll
	if wait <= 0 {
		return
	}
	var news <-chan struct{}
	if progress {
		op.mu.Lock()
		elapsed := time.Since(op.started)
		op.mu.Unlock()
		if elapsed >= wait {
			wait = min(wait, pollStep(elapsed))
			news = op.progressSignal()
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-op.ready:
	case <-news:
	case <-timer.C:
	case <-ctx.Done():
	case <-h.stopping:
	}
}

// pollStep is Hive's long polling step: 500 ms per started 10 s the operation has run.
func pollStep(elapsed time.Duration) time.Duration {
	return (elapsed/(10*time.Second) + 1) * 500 * time.Millisecond
}

// StopWaiting ends every GetOperationStatus wait, now and later, so that shutdown never
// waits for one; statuses are then answered at once.
func (h *Handler) StopWaiting() {
	h.stopOnce.Do(func() { close(h.stopping) })
}

// hiveConf looks key up in an OpenSession configuration, bare or as set:hiveconf:key.
func hiveConf(conf map[string]string, key string) (string, bool) {
	if v, ok := conf["set:hiveconf:"+key]; ok {
		return v, true
	}
	v, ok := conf[key]
	return v, ok
}

// hiveDuration parses a Hive time value as HiveConf.getTimeVar does: an integer with an
// optional unit, where a bare number or the suffix "l" is milliseconds (the unit of
// hive.server2.long.polling.timeout) and a unit is matched as Hive's unitFor matches it
// ("d" or "day…", "h" or "hour…", "m" or "min…", "s" or "sec…", "ms" or "msec…", "us" or
// "usec…", "ns" or "nsec…"). A negative value means no wait.
func hiveDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	i := 0
	if i < len(v) && (v[i] == '-' || v[i] == '+') {
		i++
	}
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", v)
	}
	unit := strings.ToLower(strings.TrimSpace(v[i:]))
	var u time.Duration
	switch {
	case unit == "" || unit == "l":
		u = time.Millisecond
	case unit == "d" || strings.HasPrefix(unit, "day"):
		u = 24 * time.Hour
	case unit == "h" || strings.HasPrefix(unit, "hour"):
		u = time.Hour
	case unit == "m" || strings.HasPrefix(unit, "min"):
		u = time.Minute
	case unit == "s" || strings.HasPrefix(unit, "sec"):
		u = time.Second
	case unit == "ms" || strings.HasPrefix(unit, "msec"):
		u = time.Millisecond
	case unit == "us" || strings.HasPrefix(unit, "usec"):
		u = time.Microsecond
	case unit == "ns" || strings.HasPrefix(unit, "nsec"):
		u = time.Nanosecond
	default:
		return 0, fmt.Errorf("%q has an unknown time unit %q", v, unit)
	}
	if n <= 0 {
		return 0, nil
	}
	return time.Duration(n) * u, nil
}

// maxSessionLongPoll bounds the long polling timeout a session may ask for: a binary
// connection's call does not notice its client leaving, so a wait holds the connection's
// clean-up back until it ends.
const maxSessionLongPoll = time.Minute

// GetResultSetMetadata returns the result schema of a finished operation.
func (h *Handler) GetResultSetMetadata(ctx context.Context, req *hiveserver.TGetResultSetMetadataReq) (*hiveserver.TGetResultSetMetadataResp, error) {
	if req == nil {
		return &hiveserver.TGetResultSetMetadataResp{Status: errStatus(missingRequest("GetResultSetMetadata"))}, nil
	}
	op, err := h.lookupOp(req.OperationHandle)
	if err != nil {
		return &hiveserver.TGetResultSetMetadataResp{Status: errStatus(err)}, nil
	}
	st, opErr, schema := op.status()
	switch {
	case st == hiveserver.TOperationState_ERROR_STATE:
		return &hiveserver.TGetResultSetMetadataResp{Status: errStatus(opErr)}, nil
	case schema == nil:
		return &hiveserver.TGetResultSetMetadataResp{Status: errStatus(invalidRequest("the operation has not finished; its result schema is not known yet"))}, nil
	}
	return &hiveserver.TGetResultSetMetadataResp{Status: okStatus(), Schema: schema}, nil
}

// startFetch checks a fetch request. It answers it outright (a log fetch, an error, an
// operation not finished) with a response, or returns the operation whose rows to fetch.
func (h *Handler) startFetch(req *hiveserver.TFetchResultsReq) (*operation, bool, *hiveserver.TFetchResultsResp) {
	if req == nil {
		return nil, false, &hiveserver.TFetchResultsResp{Status: errStatus(missingRequest("FetchResults"))}
	}
	op, err := h.lookupOp(req.OperationHandle)
	if err != nil {
		return nil, false, &hiveserver.TFetchResultsResp{Status: errStatus(err)}
	}
	columnar := op.sess.protocol >= hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6
	if req.FetchType == 1 {
		lines, offset := op.logPage(req.Orientation == hiveserver.TFetchOrientation_FETCH_FIRST, int(req.MaxRows))
		hasMore := false
		return nil, false, &hiveserver.TFetchResultsResp{Status: okStatus(), HasMoreRows: &hasMore, Results: translate.LogRowSet(lines, offset, columnar)}
	}
	st, opErr, _ := op.status()
	switch st {
	case hiveserver.TOperationState_FINISHED_STATE:
	case hiveserver.TOperationState_ERROR_STATE:
		return nil, false, &hiveserver.TFetchResultsResp{Status: errStatus(opErr)}
	default:
		return nil, false, &hiveserver.TFetchResultsResp{Status: errStatus(invalidRequest("the operation is " + st.String() + "; results can be fetched once it has finished"))}
	}
	switch req.Orientation {
	case hiveserver.TFetchOrientation_FETCH_NEXT:
	case hiveserver.TFetchOrientation_FETCH_FIRST:
		if err := op.restart(); err != nil {
			return nil, false, &hiveserver.TFetchResultsResp{Status: errStatus(err)}
		}
	default:
		return nil, false, &hiveserver.TFetchResultsResp{Status: errStatus(notSupported("fetch orientation " + req.Orientation.String()))}
	}
	return op, columnar, nil
}

// CancelOperation stops an operation's engine execution.
func (h *Handler) CancelOperation(ctx context.Context, req *hiveserver.TCancelOperationReq) (*hiveserver.TCancelOperationResp, error) {
	if req == nil {
		return &hiveserver.TCancelOperationResp{Status: errStatus(missingRequest("CancelOperation"))}, nil
	}
	op, err := h.lookupOp(req.OperationHandle)
	if err != nil {
		return &hiveserver.TCancelOperationResp{Status: errStatus(err)}, nil
	}
	op.setState(hiveserver.TOperationState_CANCELED_STATE, nil)
	op.interrupt()
	op.cancel()
	return &hiveserver.TCancelOperationResp{Status: okStatus()}, nil
}

// CloseOperation releases an operation and everything it buffers.
func (h *Handler) CloseOperation(ctx context.Context, req *hiveserver.TCloseOperationReq) (*hiveserver.TCloseOperationResp, error) {
	if req == nil {
		return &hiveserver.TCloseOperationResp{Status: errStatus(missingRequest("CloseOperation"))}, nil
	}
	op, err := h.lookupOp(req.OperationHandle)
	if err != nil {
		return &hiveserver.TCloseOperationResp{Status: errStatus(err)}, nil
	}
	h.detachOp(op)
	op.close()
	return &hiveserver.TCloseOperationResp{Status: okStatus()}, nil
}

// GetInfo answers as Spark Thrift Server does: the server and DBMS names are "Spark SQL", the
// DBMS version the engine's Spark version, and the ODBC keywords Spark's SQL keywords, comma
// separated (Simba-based ODBC drivers refuse a server without them). Every other info type is
// an error, as it is there; but where Spark Thrift Server then breaks the connection (its reply
// lacks the required value), the bridge answers with the error and an empty value.
func (h *Handler) GetInfo(ctx context.Context, req *hiveserver.TGetInfoReq) (*hiveserver.TGetInfoResp, error) {
	fail := func(err error) (*hiveserver.TGetInfoResp, error) {
		empty := ""
		return &hiveserver.TGetInfoResp{Status: errStatus(err), InfoValue: &hiveserver.TGetInfoValue{StringValue: &empty}}, nil
	}
	if req == nil {
		return fail(missingRequest("GetInfo"))
	}
	s, err := h.lookupSession(req.SessionHandle)
	if err != nil {
		return fail(err)
	}
	var v string
	switch req.InfoType {
	case hiveserver.TGetInfoType_CLI_SERVER_NAME, hiveserver.TGetInfoType_CLI_DBMS_NAME:
		v = "Spark SQL"
	case hiveserver.TGetInfoType_CLI_DBMS_VER:
		v = s.es.SparkVersion()
	case hiveserver.TGetInfoType_CLI_ODBC_KEYWORDS:
		if v, err = h.sqlKeywords(ctx, s); err != nil {
			return fail(err)
		}
	default:
		return fail(invalidRequest("Unrecognized GetInfoType value: " + req.InfoType.String()))
	}
	return &hiveserver.TGetInfoResp{Status: okStatus(), InfoValue: &hiveserver.TGetInfoValue{StringValue: &v}}, nil
}

// sqlKeywords returns the engine's SQL keywords, comma separated, asking the engine once per
// Spark version.
func (h *Handler) sqlKeywords(ctx context.Context, s *session) (string, error) {
	version := s.es.SparkVersion()
	h.mu.Lock()
	kw, ok := h.keywords[version]
	h.mu.Unlock()
	if ok {
		return kw, nil
	}
	_, rows, err := h.collect(ctx, s, translate.StatementPlan("SELECT keyword FROM sql_keywords()"))
	if err != nil {
		return "", err
	}
	words := make([]string, 0, len(rows))
	for _, r := range rows {
		words = append(words, str(r[0]))
	}
	kw = strings.Join(words, ",")
	h.mu.Lock()
	if h.keywords == nil {
		h.keywords = map[string]string{}
	}
	h.keywords[version] = kw
	h.mu.Unlock()
	return kw, nil
}

// GetQueryId returns the engine operation id behind an operation handle.
func (h *Handler) GetQueryId(ctx context.Context, req *hiveserver.TGetQueryIdReq) (*hiveserver.TGetQueryIdResp, error) {
	if req == nil {
		return nil, invalidRequest("GetQueryId without a request")
	}
	op, err := h.lookupOp(req.OperationHandle)
	if err != nil {
		return nil, err
	}
	return &hiveserver.TGetQueryIdResp{QueryId: op.id}, nil
}

// SetClientInfo accepts client information; nothing in it changes how the bridge behaves.
func (h *Handler) SetClientInfo(ctx context.Context, req *hiveserver.TSetClientInfoReq) (*hiveserver.TSetClientInfoResp, error) {
	if req == nil {
		return &hiveserver.TSetClientInfoResp{Status: errStatus(missingRequest("SetClientInfo"))}, nil
	}
	if _, err := h.lookupSession(req.SessionHandle); err != nil {
		return &hiveserver.TSetClientInfoResp{Status: errStatus(err)}, nil
	}
	return &hiveserver.TSetClientInfoResp{Status: okStatus()}, nil
}

// Close closes every session, for server shutdown.
func (h *Handler) Close() {
	h.StopWaiting()
	h.mu.Lock()
	all := make([]*session, 0, len(h.sess))
	for _, s := range h.sess {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		h.closeSession(s)
	}
	h.watchers.Wait()
}
