package engine

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// Session is one client session on an engine. Its ID is also the Spark Connect session id on
// the engine, so a Thrift session and a Connect session are the same kind of thing to the
// engine, and one can join the other.
//
// If the session's engine dies, the next call through Conn moves the session to a new
// engine for the same key (engine-side state such as temp views is lost with the old one).
type Session struct {
	ID       string
	User     string
	Protocol string
	// Transport and ClientAddr are those of the request that opened the session.
	Transport  string
	ClientAddr string
	// AuthMechanism is how its user was authenticated.
	AuthMechanism string
	Created       time.Time

	m        *Manager
	place    placement
	lastUsed atomic.Int64  // unix nanos
	done     chan struct{} // closed when the session is forgotten

	// mu guards eng, holders, ops and endReason.
	mu      sync.Mutex
	eng     *Engine
	holders int
	ops     map[string]*Operation
	// endReason says why the session ended, when the bridge ended it (idle, an administrator).
	endReason string
}

// SessionInfo describes a session for introspection.
type SessionInfo struct {
	ID         string
	User       string
	Protocol   string
	Transport  string
	ClientAddr string
	// AuthMechanism names how the user was authenticated (NONE, FILE, LDAP, KERBEROS, JWT).
	AuthMechanism string
	EngineID      string
	Key           string
	Holders       int
	Created       time.Time
	LastUsed      time.Time
	Operations    []OperationInfo
}

func (s *Session) info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := SessionInfo{ID: s.ID, User: s.User, Protocol: s.Protocol, Transport: s.Transport, ClientAddr: s.ClientAddr,
		AuthMechanism: s.AuthMechanism, EngineID: s.eng.ID, Key: s.place.key, Holders: s.holders,
		Created: s.Created, LastUsed: time.Unix(0, s.lastUsed.Load())}
	for _, op := range s.ops {
		in.Operations = append(in.Operations, op.info())
	}
	sort.Slice(in.Operations, func(i, j int) bool { return in.Operations[i].Started.Before(in.Operations[j].Started) })
	return in
}

func (s *Session) touch() { s.lastUsed.Store(time.Now().UnixNano()) }

func (s *Session) hold() {
	s.mu.Lock()
	s.holders++
	s.mu.Unlock()
}

func (s *Session) engine() *Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng
}

// Done is closed when the session has been closed, by its holders, by the idle reaper or by
// an administrator (Manager.CloseSession).
func (s *Session) Done() <-chan struct{} { return s.done }

// EndReason says why the bridge ended the session ("closed after being idle", "closed by an
// administrator"), for the message its client gets; "closed" when its holders closed it.
func (s *Session) EndReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endReason == "" {
		return "closed"
	}
	return s.endReason
}

func (s *Session) setEndReason(r string) {
	s.mu.Lock()
	if s.endReason == "" {
		s.endReason = r
	}
	s.mu.Unlock()
}

// Conn returns the connection to the session's engine, moving the session to a new engine
// first if its engine has died. Requests sent through it must carry this session's ID and
// UserContext. The translating frontend uses the typed calls below instead; the Spark
// Connect frontend relays raw calls through it.
func (s *Session) Conn(ctx context.Context) (Conn, error) {
	s.touch()
	select {
	case <-s.done:
		return nil, newError(KindNotFound, nil, "session %s is closed", s.ID)
	default:
	}
	eng := s.engine()
	if eng.alive() {
		return eng.conn, nil
	}
	if s.place.level == ShareConnection {
		return nil, newError(KindUnavailable, nil, "the engine of this session (%s) has stopped; open a new session", eng.ID)
	}
	next, err := s.m.engineFor(ctx, s.place)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	moved := s.eng != next
	if moved {
		s.eng.removeSession()
		next.addSession()
		s.eng = next
	}
	s.mu.Unlock()
	if moved {
		s.m.log.WithFields(logrus.Fields{"session": s.ID, "user": s.User, "from": eng.ID, "to": next.ID}).Warn("session moved to a new engine after its engine stopped")
	}
	return next.conn, nil
}

// ExecuteRequest is one plan execution.
type ExecuteRequest struct {
	// OperationID is the engine operation id; empty lets the engine choose one.
	OperationID string
	Plan        *connect.Plan
	// ClientType names the frontend to the engine (its UI and logs show it).
	ClientType string
}

// Results reads an execution's responses.
type Results struct {
	s    *Session
	recv func() (*connect.ExecutePlanResponse, error)
}

// Next returns the next response, or io.EOF after the last. A failure is an *Error,
// KindEngineLost when the engine died during the call.
func (r *Results) Next() (*connect.ExecutePlanResponse, error) {
	resp, err := r.recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, r.s.Explain(err)
	}
	return resp, nil
}

// Execute starts executing req.Plan in the session. The execution lasts as long as ctx:
// cancelling it ends the call (and, for an execution that is not reattachable, the
// execution on the engine).
func (s *Session) Execute(ctx context.Context, req ExecuteRequest) (*Results, error) {
	c, err := s.Conn(ctx)
	if err != nil {
		return nil, err
	}
	in := &connect.ExecutePlanRequest{SessionId: s.ID, UserContext: s.UserContext(), Plan: req.Plan}
	if req.OperationID != "" {
		in.OperationId = &req.OperationID
	}
	if req.ClientType != "" {
		in.ClientType = &req.ClientType
	}
	recv, err := c.ExecutePlan(ctx, in)
	if err != nil {
		return nil, s.Explain(err)
	}
	return &Results{s: s, recv: recv}, nil
}

// SetConf sets one session conf on the engine.
func (s *Session) SetConf(ctx context.Context, key, value string) error {
	c, err := s.Conn(ctx)
	if err != nil {
		return err
	}
	_, err = c.Config(ctx, &connect.ConfigRequest{SessionId: s.ID, UserContext: s.UserContext(),
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_Set{Set: &connect.ConfigRequest_Set{
			Pairs: []*connect.KeyValue{{Key: key, Value: &value}}}}}})
	return s.Explain(err)
}

// GetConf returns the session's value of key, and false when the key has no value.
func (s *Session) GetConf(ctx context.Context, key string) (string, bool, error) {
	c, err := s.Conn(ctx)
	if err != nil {
		return "", false, err
	}
	resp, err := c.Config(ctx, &connect.ConfigRequest{SessionId: s.ID, UserContext: s.UserContext(),
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_GetOption{
			GetOption: &connect.ConfigRequest_GetOption{Keys: []string{key}}}}})
	if err != nil {
		return "", false, s.Explain(err)
	}
	for _, kv := range resp.GetPairs() {
		if kv.GetKey() == key && kv.Value != nil {
			return kv.GetValue(), true, nil
		}
	}
	return "", false, nil
}

// Interrupt asks the engine to stop the execution with engine operation id operationID.
func (s *Session) Interrupt(ctx context.Context, operationID string) error {
	c, err := s.Conn(ctx)
	if err != nil {
		return err
	}
	return s.interruptOn(ctx, c, operationID)
}

// interruptOn asks the engine behind c to interrupt the session's execution operationID.
func (s *Session) interruptOn(ctx context.Context, c Conn, operationID string) error {
	_, err := c.Interrupt(ctx, &connect.InterruptRequest{SessionId: s.ID, UserContext: s.UserContext(),
		InterruptType: connect.InterruptRequest_INTERRUPT_TYPE_OPERATION_ID,
		Interrupt:     &connect.InterruptRequest_OperationId{OperationId: operationID}})
	return s.Explain(err)
}

// UserContext is the user context the engine sees for this session.
func (s *Session) UserContext() *connect.UserContext {
	return &connect.UserContext{UserId: s.User, UserName: s.User}
}

// SparkVersion is the Spark version of the session's engine.
func (s *Session) SparkVersion() string { return s.engine().Version }

// EngineID identifies the engine serving the session.
func (s *Session) EngineID() string { return s.engine().ID }

// Err returns an EngineLost error when the session's engine has stopped, and nil otherwise.
// Frontends call it to turn a transport failure into a clear message.
func (s *Session) Err() error {
	eng := s.engine()
	if eng.alive() {
		return nil
	}
	return newError(KindEngineLost, nil, "the engine serving this session (%s) stopped; the next statement runs on a new engine", eng.ID)
}

// Explain normalises the failure of a call to the session's engine into an *Error (see
// normalise), and makes it KindEngineLost when the engine died during the call. A transport
// failure can reach the caller before the engine's exit has been noticed, so for those it
// waits briefly for the process to be seen gone.
func (s *Session) Explain(err error) error {
	if err == nil {
		return nil
	}
	err = normalise(err)
	if lost := s.Err(); lost != nil {
		return lost
	}
	if !IsUnavailable(err) {
		return err
	}
	eng := s.engine()
	if _, remote := eng.proc.(*clusterProcess); remote {
		// No process of this host to watch: ask the engine itself. One that does not answer
		// is lost now, not three liveness probes later.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, perr := eng.conn.SparkVersion(ctx)
		cancel()
		if perr == nil {
			return err
		}
		eng.markDead()
		s.m.wg.Add(1)
		go func() { defer s.m.wg.Done(); s.m.loseEngine(eng, "it stopped answering during a call") }()
		return s.Err()
	}
	select {
	case <-eng.proc.Done():
		eng.markDead()
		return s.Err()
	case <-time.After(2 * time.Second):
		return err
	}
}

// Close drops one holder of the session. The last holder's Close releases the engine-side
// session and, at the CONNECTION share level, stops the engine.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	s.holders--
	last := s.holders <= 0
	s.mu.Unlock()
	if !last {
		return nil
	}
	return s.release(ctx, "closed")
}

// release ends the session for every holder: it leaves the registry, Done is closed, and the
// engine-side session is released (at the CONNECTION share level, the engine stops). The
// last holder's Close and the idle reaper both end a session this way; only the first call
// does anything. reason says why, for the observer.
func (s *Session) release(ctx context.Context, reason string) error {
	if !s.m.forget(s) {
		return nil
	}
	// Its operations end with it: their frontends free what they hold.
	s.mu.Lock()
	ops := make([]*Operation, 0, len(s.ops))
	for _, op := range s.ops {
		ops = append(ops, op)
	}
	s.mu.Unlock()
	for _, op := range ops {
		op.expire()
	}
	s.m.obs.SessionClosed(s.info(), reason)
	eng := s.engine()
	if eng.Level == ShareConnection {
		s.m.stopEngine(eng, "its CONNECTION session closed")
		return nil
	}
	if !eng.alive() {
		return nil
	}
	return normalise(eng.conn.ReleaseSession(ctx, &connect.ReleaseSessionRequest{SessionId: s.ID, UserContext: s.UserContext()}))
}

// Detach forgets the session without telling the engine: for a Connect client that has
// released the session itself.
func (s *Session) Detach() {
	if s.m.forget(s) {
		s.m.obs.SessionClosed(s.info(), "detached")
	}
	if eng := s.engine(); eng.Level == ShareConnection {
		s.m.stopEngine(eng, "its CONNECTION session was released")
	}
}

// Operation is one execution in a session, whichever frontend started it: a Thrift
// statement or metadata call, or a Spark Connect execution. The engine layer's registry
// holds every live one; frontends map their wire handles to it.
type Operation struct {
	ID        string
	Kind      string
	Statement string
	Started   time.Time
	// EngineID is the engine the operation started on.
	EngineID string

	s        *Session
	lastUsed atomic.Int64
	rows     atomic.Int64
	bytes    atomic.Int64
	// expired is closed when the idle reaper, or the end of its session, has ended the
	// operation; ended makes that happen once.
	expired chan struct{}
	ended   sync.Once
	// cancelled is closed by Cancel, once the engine has been asked to interrupt the
	// operation; cancelReq makes that happen once.
	cancelled chan struct{}
	cancelReq atomic.Bool

	// mu guards state, finished, execID and err.
	mu       sync.Mutex
	state    string
	finished time.Time
	execID   string // the engine operation id of the current execution; "" means ID
	err      string
}

// OperationSpec describes an operation to register.
type OperationSpec struct {
	// ID is the operation's id: the Spark Connect operation id, which for Thrift is also
	// the handle's GUID.
	ID string
	// Kind says what the operation is: "statement", "metadata" or "execute".
	Kind string
	// Statement is the statement text, the metadata call, or a summary of the plan.
	Statement string
}

// Operation kinds.
const (
	KindStatement = "statement"
	KindMetadata  = "metadata"
	KindExecute   = "execute"
)

// OperationInfo describes an operation for introspection: a copy, safe to keep.
type OperationInfo struct {
	ID        string
	Kind      string
	Statement string
	State     string
	SessionID string
	User      string
	Protocol  string
	EngineID  string
	Started   time.Time
	// Finished is when the operation reached a final state; zero while it runs.
	Finished time.Time
	LastUsed time.Time
	Rows     int64
	Bytes    int64
	// Transport and ClientAddr are those of the operation's session.
	Transport  string
	ClientAddr string
	// Error is the message of the failure that ended the operation, if any (SetError).
	Error string
	// Ended is when the operation left the registry; set only in Observer.OperationEnded.
	Ended time.Time
}

func (op *Operation) info() OperationInfo {
	op.mu.Lock()
	state, finished, err := op.state, op.finished, op.err
	op.mu.Unlock()
	return OperationInfo{ID: op.ID, Kind: op.Kind, Statement: op.Statement, State: state, SessionID: op.s.ID, User: op.s.User,
		Protocol: op.s.Protocol, EngineID: op.EngineID, Started: op.Started, Finished: finished,
		LastUsed: time.Unix(0, op.lastUsed.Load()), Rows: op.rows.Load(), Bytes: op.bytes.Load(),
		Transport: op.s.Transport, ClientAddr: op.s.ClientAddr, Error: err}
}

// Operation states.
const (
	OpRunning  = "RUNNING"
	OpFinished = "FINISHED"
	OpError    = "ERROR"
	OpCanceled = "CANCELED"
)

// StartOperation registers a running operation, enforcing the per-session limit. The
// operation stays registered until End; the idle reaper ends one that has been idle for the
// operation idle timeout and closes its Expired channel, so that its frontend frees it.
func (s *Session) StartOperation(spec OperationSpec) (*Operation, error) {
	s.touch()
	select {
	case <-s.done:
		return nil, newError(KindNotFound, nil, "session %s is closed", s.ID)
	default:
	}
	op, err := s.addOperation(spec)
	if err != nil {
		return nil, err
	}
	// Not under s.mu: an observer must be free to read the registry.
	s.m.obs.OperationStarted(op.info())
	return op, nil
}

// addOperation registers a running operation, enforcing the per-session limit.
func (s *Session) addOperation(spec OperationSpec) (*Operation, error) {
	eng := s.engine()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.ops[spec.ID]; taken {
		return nil, newError(KindInvalidArgument, nil, "operation id %s is already running in session %s", spec.ID, s.ID)
	}
	if max := s.m.cfg.MaxOperationsPerSession; max > 0 {
		running := 0
		for _, op := range s.ops {
			if op.State() == OpRunning {
				running++
			}
		}
		if running >= max {
			return nil, newError(KindResourceExhausted, nil, "session %s has %d running operations, the maximum", s.ID, running)
		}
	}
	op := &Operation{ID: spec.ID, Kind: spec.Kind, Statement: spec.Statement, Started: time.Now(), EngineID: eng.ID, s: s,
		expired: make(chan struct{}), cancelled: make(chan struct{}), state: OpRunning}
	op.touch()
	s.ops[spec.ID] = op
	return op, nil
}

func (op *Operation) touch() { op.lastUsed.Store(time.Now().UnixNano()) }

// Touch records client activity on the operation.
func (op *Operation) Touch() {
	op.touch()
	op.s.touch()
}

// Sent counts rows and bytes sent to the client.
func (op *Operation) Sent(rows, bytes int64) {
	op.rows.Add(rows)
	op.bytes.Add(bytes)
	op.Touch()
	if rows != 0 || bytes != 0 {
		op.s.m.obs.OperationSent(op.s.Protocol, op.s.Transport, rows, bytes)
	}
}

// SetState records the operation's state. An operation cancelled by Cancel stays CANCELED,
// whatever its execution reports afterwards.
func (op *Operation) SetState(state string) {
	op.setState(state)
	op.Touch()
}

// setState records the operation's state and returns the one it had before and the one it
// has now.
func (op *Operation) setState(state string) (was, now string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.isCancelled() {
		state = OpCanceled
	}
	was, op.state = op.state, state
	if state != OpRunning && op.finished.IsZero() {
		op.finished = time.Now()
	}
	return was, state
}

// State is the operation's state.
func (op *Operation) State() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.state
}

// Operation returns the session's registered operation with id, or nil.
func (s *Session) Operation(id string) *Operation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops[id]
}

// SetExecutionID records the engine operation id the operation currently runs under, when it
// is not the operation's ID (an HS2 statement executed again for FETCH_FIRST).
func (op *Operation) SetExecutionID(id string) {
	op.mu.Lock()
	op.execID = id
	op.mu.Unlock()
}

func (op *Operation) executionID() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.execID == "" {
		return op.ID
	}
	return op.execID
}

// Cancel stops the operation from outside its frontend (an administrator): it is CANCELED
// from now on, the engine is asked to interrupt its execution (Session.Interrupt), and then
// Cancelled is closed, on which the owning frontend ends the client's call or reports the
// cancellation at its next poll. The interrupt's failure is returned, but the operation is
// cancelled on the bridge either way. Only the first call does anything, and none on an
// operation that ended with an error or was cancelled already.
func (op *Operation) Cancel(ctx context.Context) error {
	op.mu.Lock()
	// An operation that failed keeps its error; a FINISHED one may still be sending its
	// results (an HS2 cursor), so it can be cancelled.
	if op.state == OpError || op.state == OpCanceled || !op.cancelReq.CompareAndSwap(false, true) {
		op.mu.Unlock()
		return nil
	}
	op.state = OpCanceled
	if op.finished.IsZero() {
		op.finished = time.Now()
	}
	op.mu.Unlock()
	err := op.s.interruptHere(ctx, op.executionID())
	close(op.cancelled)
	return err
}

// interruptHere asks the session's current engine to interrupt an execution. Unlike
// Interrupt, it never moves the session to a new engine: an execution on an engine that has
// died is gone already, and a new engine has nothing to interrupt.
func (s *Session) interruptHere(ctx context.Context, operationID string) error {
	eng := s.engine()
	if !eng.alive() {
		return nil
	}
	return s.interruptOn(ctx, eng.conn, operationID)
}

// ErrCancelledByAdmin is what a frontend reports for an operation an operator cancelled,
// when the engine has not ended the call with its own error meanwhile.
var ErrCancelledByAdmin error = newError(KindCanceled, nil, "[OPERATION_CANCELED] the operation was cancelled by an administrator of the bridge")

// Cancelled is closed when Cancel has cancelled the operation.
func (op *Operation) Cancelled() <-chan struct{} { return op.cancelled }

// isCancelled reports whether Cancel has been called.
func (op *Operation) isCancelled() bool { return op.cancelReq.Load() }

// Expired is closed when the idle reaper has ended the operation, or its session ended. The frontend that owns
// it then frees what it holds.
func (op *Operation) Expired() <-chan struct{} { return op.expired }

// End removes the operation from the registry. It may be called more than once; only the
// first call is reported to the observer.
func (op *Operation) End() {
	op.s.mu.Lock()
	registered := op.s.ops[op.ID] == op
	if registered {
		delete(op.s.ops, op.ID)
	}
	op.s.mu.Unlock()
	if registered {
		in := op.info()
		in.Ended = time.Now()
		op.s.m.obs.OperationEnded(in)
	}
}

// expire ends an idle operation and tells its frontend.
func (op *Operation) expire() {
	op.End()
	op.ended.Do(func() { close(op.expired) })
}

// Clone registers id as a new session of the same user on the same engine, for a session the
// engine has just cloned (Spark Connect CloneSession).
func (s *Session) Clone(id string) (*Session, error) {
	m := s.m
	eng := s.engine()
	c := &Session{ID: id, User: s.User, Protocol: s.Protocol, Transport: s.Transport, ClientAddr: s.ClientAddr, Created: time.Now(),
		m: m, place: s.place, eng: eng, holders: 1, ops: map[string]*Operation{}, done: make(chan struct{})}
	c.touch()
	m.mu.Lock()
	if _, taken := m.sessions[id]; taken {
		m.mu.Unlock()
		return nil, newError(KindPermissionDenied, nil, "session id %s is already in use", id)
	}
	m.sessions[id] = c
	eng.addSession()
	m.mu.Unlock()
	m.obs.SessionOpened(c.info())
	return c, nil
}

// Taken reports whether a session id is in use on this bridge.
func (m *Manager) Taken(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.sessions[id]
	return ok
}
