package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// Manager routes sessions to engines and keeps the sessions of both frontends.
type Manager struct {
	cfg      Config
	launcher Launcher
	log      *logrus.Entry
	obs      Observer // cfg.Observer, or one that tells no one

	// ctx is cancelled by Close; launches run under it, not under the first caller's ctx,
	// so that one impatient client cannot abort a launch others are waiting for.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // launch, watch and reaper goroutines

	// mu guards slots, engines, sessions, released, closed and closeCtx.
	mu       sync.Mutex
	slots    map[string]*slot     // by routing key: the engine new sessions of that key get
	engines  map[*Engine]struct{} // every live engine, draining ones included
	sessions map[string]*Session  // by session id
	released releasedSessions     // recently closed session ids, never to be registered again
	draining bool                 // Drain was called: no new sessions
	closed   bool
	closeCtx context.Context // Close's ctx: bounds the stop of an engine whose launch ends after Close

	failures failureRing // the last failed operations (Operation.Fail); it has a lock of its own
}

// releasedSessions remembers closed session ids for a while, in closing order, so that a
// client's late call for a session it has just released (PySpark sends ReleaseExecute after
// ReleaseSession at stop()) is forwarded to the engine, which answers for itself, instead of
// registering the id as a new session that would then hold the engine for hours.
type releasedSessions struct {
	byID  map[string]releasedSession
	order []string
}

type releasedSession struct {
	user  string
	place placement
	eng   *Engine
	at    time.Time
}

const (
	releasedTTL = 10 * time.Minute
	releasedMax = 4096
)

// add records id; the caller holds m.mu.
func (r *releasedSessions) add(id string, e releasedSession) {
	if r.byID == nil {
		r.byID = map[string]releasedSession{}
	}
	if _, ok := r.byID[id]; !ok {
		r.order = append(r.order, id)
	}
	r.byID[id] = e
	for len(r.order) > 0 {
		old, ok := r.byID[r.order[0]]
		if ok && len(r.order) <= releasedMax && e.at.Sub(old.at) < releasedTTL {
			break
		}
		delete(r.byID, r.order[0])
		r.order = r.order[1:]
	}
}

// get returns the record of id if it is still fresh; the caller holds m.mu.
func (r *releasedSessions) get(id string, now time.Time) (releasedSession, bool) {
	e, ok := r.byID[id]
	if !ok || now.Sub(e.at) >= releasedTTL {
		return releasedSession{}, false
	}
	return e, true
}

// slot holds the engine of one key, or the launch that will produce it.
type slot struct {
	ready chan struct{} // closed when eng or err is set
	eng   *Engine
	err   error
	// id, place and started describe a launch in flight, for Engines.
	id      string
	place   placement
	started time.Time
}

// SessionRequest asks for a session.
type SessionRequest struct {
	// User is the authenticated user.
	User string
	// Groups are the user's groups as the auth provider reported them (LDAP, a token's
	// claim); the first is the user's group at the GROUP share level, unless Config.Groups
	// names one.
	Groups []string
	// AuthMechanism names how the user was authenticated (NONE, FILE, LDAP, KERBEROS, JWT).
	AuthMechanism string
	// Protocol names the frontend ("thrift", "connect"), for introspection.
	Protocol string
	// Transport says how the client reached the frontend: "binary" or "http" for
	// HiveServer2, "grpc" for Spark Connect.
	Transport string
	// ClientAddr is the client's address (host:port), for the audit log.
	ClientAddr string
	// SessionID, when set, names the session to attach to or create. When empty, a new
	// session gets a fresh id, unless Conf names one to join (ConfSessionID).
	SessionID string
	// Conf is the session configuration: share level, subdomain and launch confs.
	Conf map[string]string
}

// NewManager returns a Manager that launches engines with l. It runs a reaper goroutine
// until Close.
func NewManager(cfg Config, l Launcher, log *logrus.Entry) *Manager {
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	if cfg.ShareLevel == "" {
		cfg.ShareLevel = ShareUser
	}
	if cfg.ReapInterval <= 0 {
		cfg.ReapInterval = time.Second
	}
	obs := cfg.Observer
	if obs == nil {
		obs = Observers(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg: cfg, launcher: l, log: log.WithField("component", "engine"), obs: obs,
		ctx: ctx, cancel: cancel,
		slots: map[string]*slot{}, engines: map[*Engine]struct{}{}, sessions: map[string]*Session{},
	}
	m.wg.Add(1)
	go m.reap()
	return m
}

var errClosed = newError(KindUnavailable, nil, "the bridge is shutting down")

// errDraining refuses a new session during shutdown. Not KindUnavailable: clients retry
// that for minutes against a bridge that is going away.
var errDraining = newError(KindShuttingDown, nil, "the bridge is shutting down and opens no new sessions; connect again (to another bridge, or to this one once restarted)")

// Drain stops new sessions: Open fails for any session id it does not know. Sessions
// already open keep working until Close, so that their running work can finish.
func (m *Manager) Drain() {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
}

// Quiet reports whether no session has an operation and none has been used for the last
// quiet period: during a drain, the moment nothing is in flight. The quiet period covers
// the gaps between the several calls one client query makes (PySpark's AnalyzePlan, then
// ExecutePlan; an HS2 client's polls and fetches).
func (m *Manager) Quiet(quiet time.Duration) bool {
	cutoff := time.Now().Add(-quiet)
	for _, s := range m.Sessions(Filter{}) {
		if s.LastUsed.After(cutoff) {
			return false
		}
		for _, op := range s.Operations {
			// A finished result its client no longer fetches (and never closed) holds
			// nothing up.
			if op.State == OpRunning || op.LastUsed.After(cutoff) {
				return false
			}
		}
	}
	return true
}

// Open returns the session req asks for. A request that joins an existing session (by
// SessionID or ConfSessionID) gets that session, shared: it stays open until every holder
// has closed it.
func (m *Manager) Open(ctx context.Context, req SessionRequest) (*Session, error) {
	s, err := m.open(ctx, req)
	if err != nil {
		m.obs.SessionOpenFailed(req, err)
	}
	return s, err
}

func (m *Manager) open(ctx context.Context, req SessionRequest) (*Session, error) {
	if req.User == "" {
		return nil, newError(KindInvalidArgument, nil, "no user given")
	}
	id, join := req.SessionID, false
	if j := SessionConf(req.Conf, ConfSessionID); j != "" && id == "" {
		id, join = j, true
	}
	if id == "" {
		id = uuid.NewString()
	} else if _, err := uuid.Parse(id); err != nil {
		return nil, newError(KindInvalidArgument, nil, "session id %q is not a UUID", id)
	}

	if s, err := m.existing(ctx, req.User, id, join); s != nil || err != nil {
		return s, err
	}
	if join {
		return nil, newError(KindNotFound, nil, "no open session %s to join", id)
	}
	if s, err := m.releasedSession(req, id); s != nil || err != nil {
		return s, err
	}
	m.mu.Lock()
	draining := m.draining
	m.mu.Unlock()
	if draining {
		return nil, errDraining
	}
	p, err := m.place(req, id)
	if err != nil {
		return nil, err
	}
	if err := m.checkSessionLimit(req.User); err != nil {
		return nil, err
	}
	eng, err := m.engineFor(ctx, p)
	if err != nil {
		return nil, err
	}
	s := &Session{ID: id, User: req.User, Protocol: req.Protocol, Transport: req.Transport, ClientAddr: req.ClientAddr,
		AuthMechanism: req.AuthMechanism, Created: time.Now(),
		m: m, place: p, eng: eng, holders: 1, ops: map[string]*Operation{}, done: make(chan struct{})}
	s.touch()

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errClosed
	}
	if prev, ok := m.sessions[id]; ok { // lost a race with another open of this id
		m.mu.Unlock()
		if prev.User != req.User {
			return nil, newError(KindPermissionDenied, nil, "session %s belongs to another user", id)
		}
		prev.hold()
		return prev, nil
	}
	m.sessions[id] = s
	eng.addSession()
	m.mu.Unlock()
	m.log.WithFields(logrus.Fields{"user": req.User, "session": id, "engine": eng.ID, "key": p.key, "protocol": req.Protocol}).Info("session opened")
	m.obs.SessionOpened(s.info())
	return s, nil
}

// releasedSession returns, for a call on a session that was closed moments ago, a session
// bound to the same engine that is not registered: the call reaches the engine, which
// knows the session is gone, and nothing here counts it as open.
func (m *Manager) releasedSession(req SessionRequest, id string) (*Session, error) {
	m.mu.Lock()
	e, ok := m.released.get(id, time.Now())
	m.mu.Unlock()
	if !ok {
		return nil, nil
	}
	if e.user != req.User {
		return nil, newError(KindPermissionDenied, nil, "session %s belongs to another user", id)
	}
	if !e.eng.alive() {
		return nil, newError(KindEngineLost, nil, "the engine that served session %s (%s) stopped", id, e.eng.ID)
	}
	// Not registered, so never reaped or closed: it lives for this one call.
	s := &Session{ID: id, User: req.User, Protocol: req.Protocol, Transport: req.Transport, ClientAddr: req.ClientAddr,
		AuthMechanism: req.AuthMechanism, Created: e.at,
		m: m, place: e.place, eng: e.eng, holders: 1, ops: map[string]*Operation{}, done: make(chan struct{})}
	s.touch()
	return s, nil
}

// existing returns the known session id, checking its owner; join adds a holder.
func (m *Manager) existing(ctx context.Context, user, id string, join bool) (*Session, error) {
	m.mu.Lock()
	s, ok := m.sessions[id]
	m.mu.Unlock()
	if !ok {
		return nil, nil
	}
	if s.User != user {
		return nil, newError(KindPermissionDenied, nil, "session %s belongs to another user", id)
	}
	if join {
		s.hold()
	}
	s.touch()
	return s, nil
}

func (m *Manager) checkSessionLimit(user string) error {
	if m.cfg.MaxSessionsPerUser <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sessions {
		if s.User == user {
			n++
		}
	}
	if n >= m.cfg.MaxSessionsPerUser {
		return newError(KindResourceExhausted, nil, "user %s has %d open sessions, the maximum; close one first", user, n)
	}
	return nil
}

// engineFor returns the live engine for p's key, launching one if needed. Concurrent
// callers for one key share a single launch.
func (m *Manager) engineFor(ctx context.Context, p placement) (*Engine, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, errClosed
		}
		sl, ok := m.slots[p.key]
		if !ok {
			if m.cfg.MaxEngines > 0 && len(m.engines)+m.launching() >= m.cfg.MaxEngines {
				m.mu.Unlock()
				return nil, newError(KindResourceExhausted, nil, "the bridge already runs %d engines, the maximum", m.cfg.MaxEngines)
			}
			sl = &slot{ready: make(chan struct{}), id: "engine-" + uuid.NewString()[:8], place: p, started: time.Now()}
			m.slots[p.key] = sl
			m.wg.Add(1)
			go m.launch(p, sl)
		}
		m.mu.Unlock()

		select {
		case <-sl.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if sl.err != nil {
			return nil, sl.err
		}
		if sl.eng.alive() && !sl.eng.isDraining() {
			return sl.eng, nil
		}
		// The engine died or is draining; its watcher or the reaper removes the slot.
		m.mu.Lock()
		if m.slots[p.key] == sl {
			delete(m.slots, p.key)
		}
		m.mu.Unlock()
	}
}

// launching counts launches in flight. Caller holds mu.
func (m *Manager) launching() int {
	n := 0
	for _, sl := range m.slots {
		select {
		case <-sl.ready:
		default:
			n++
		}
	}
	return n
}

func (m *Manager) launch(p placement, sl *slot) {
	defer m.wg.Done()
	log := m.log.WithFields(logrus.Fields{"key": p.key, "run_as": p.runAs})
	log.Info("launching engine")
	m.obs.EngineChanged(EngineEvent{Type: EventLaunching, Key: p.key, User: p.runAs})
	start := time.Now()
	eng, err := m.start(p, sl.id)
	// Reported before the waiting sessions hear of it, so that an observer sees the engine
	// ready before its first session.
	if err != nil {
		m.obs.EngineChanged(EngineEvent{Type: EventLaunchFailed, Key: p.key, User: p.runAs, Took: time.Since(start), Err: err})
	} else {
		m.obs.EngineChanged(EngineEvent{Type: EventReady, ID: eng.ID, Key: eng.Key, User: eng.User, Took: time.Since(start)})
	}
	m.mu.Lock()
	closed, stopCtx := m.closed, m.closeCtx
	switch {
	case err != nil:
		delete(m.slots, p.key) // the next session tries again
		sl.err = err
	case closed:
		// Close has already listed the engines it stops, so this one is never registered:
		// it is stopped here, within Close's ctx, and Close waits for it.
		delete(m.slots, p.key)
		sl.err = errClosed
	default:
		sl.eng = eng
		m.engines[eng] = struct{}{}
	}
	close(sl.ready)
	m.mu.Unlock()
	if err != nil {
		log.WithError(err).Error("engine launch failed")
		return
	}
	if closed {
		m.stopEngineWithin(stopCtx, eng, "its launch ended during bridge shutdown", nil)
		return
	}
	log.WithFields(logrus.Fields{"engine": eng.ID, "pid": eng.proc.PID(), "addr": eng.proc.Addr(), "app_id": eng.appID,
		"took": time.Since(start).Round(time.Millisecond)}).Info("engine ready")
	m.record(eng)

	m.wg.Add(1)
	go m.watch(eng, log)
}

// watch forgets an engine whose process exits, so that the next session relaunches it.
func (m *Manager) watch(eng *Engine, log *logrus.Entry) {
	defer m.wg.Done()
	select {
	case <-eng.proc.Done():
	case <-m.ctx.Done():
		return
	}
	expected := eng.isStopping()
	eng.markDead()
	m.forgetEngine(eng)
	_ = eng.conn.Close()
	if expected {
		log.WithField("engine", eng.ID).Info("engine stopped")
	} else {
		log.WithField("engine", eng.ID).Warn("engine process exited unexpectedly; its sessions move to a new engine on their next call")
		m.obs.EngineChanged(EngineEvent{Type: EventLost, ID: eng.ID, Key: eng.Key, User: eng.User, Reason: "its process exited"})
	}
}

// forgetEngine removes eng from the routing tables.
func (m *Manager) forgetEngine(eng *Engine) {
	m.mu.Lock()
	delete(m.engines, eng)
	if sl, ok := m.slots[eng.Key]; ok && sl.eng == eng {
		delete(m.slots, eng.Key)
	}
	m.mu.Unlock()
	m.unrecord(eng)
}

func (m *Manager) start(p placement, id string) (*Engine, error) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.StartTimeout)
	defer cancel()
	l := m.launcher
	if p.static != "" {
		se := m.cfg.StaticEngines[p.static]
		tlsCfg, err := staticTLS(se)
		if err != nil {
			return nil, err
		}
		l = Static{Addr: se.Addr, Token: se.Token, TLS: tlsCfg}
	}
	name := sanitize(p.runAs)
	if name == "" {
		name = "server"
	}
	proc, err := l.Launch(ctx, Spec{Name: name + "-" + id[7:], User: p.runAs, Conf: p.conf, Profile: p.profile, IdleTimeout: p.idleTimeout})
	if err != nil {
		return nil, launchError(ctx, err, m.cfg.StartTimeout)
	}
	conn, err := m.dial(proc)
	if err != nil {
		_ = proc.Stop(context.Background())
		return nil, newError(KindUnavailable, err, "cannot connect to engine")
	}
	eng := &Engine{ID: id, Key: p.key, User: p.runAs, Level: p.level, Static: p.static, Started: time.Now(), IdleTimeout: p.idleTimeout,
		Master: p.master(m.cfg), proc: proc, conn: conn}
	eng.idleSince = time.Now()
	if eng.Version, err = waitReady(ctx, eng); err != nil {
		_ = conn.Close()
		_ = proc.Stop(context.Background())
		return nil, launchError(ctx, err, m.cfg.StartTimeout)
	}
	if eng.appID = appID(proc); eng.appID == "" {
		eng.appID = engineAppID(ctx, conn)
	}
	if p.static == "" {
		eng.cm, eng.ref = m.clusterOf(proc, eng.Master, eng.appID)
		m.refreshCluster(ctx, eng)
	}
	return eng, nil
}

func staticTLS(se StaticEngine) (*tls.Config, error) {
	if !se.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if se.CAFile != "" {
		pem, err := os.ReadFile(se.CAFile)
		if err != nil {
			return nil, newError(KindUnavailable, err, "reading CA file of static engine")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, newError(KindUnavailable, nil, "CA file %s holds no PEM certificate", se.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func launchError(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return newError(KindUnavailable, err, "engine did not become ready within %s", timeout)
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return newError(KindUnavailable, err, "engine launch failed")
}

// waitReady probes the engine until it answers, its process exits, or ctx ends.
func waitReady(ctx context.Context, eng *Engine) (string, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		// Probe over gRPC only once the port accepts: a gRPC client that fails to connect
		// backs off exponentially, which would add seconds to every launch.
		var err error
		var c net.Conn
		if c, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", eng.proc.Addr()); err == nil {
			c.Close()
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var v string
			v, err = eng.conn.SparkVersion(pctx)
			cancel()
			if err == nil {
				return v, nil
			}
			if err = normalise(err); KindOf(err) == KindInternal {
				// The engine refused the bridge's credentials: waiting will not help.
				return "", err
			}
		}
		last = err
		select {
		case <-eng.proc.Done():
			if lp, ok := eng.proc.(*localProcess); ok {
				return "", lp.exitError()
			}
			return "", newError(KindUnavailable, last, "engine exited before it became ready")
		case <-ctx.Done():
			if lp, ok := eng.proc.(*localProcess); ok {
				return "", newError(KindUnavailable, last, "engine not ready (log %s):\n%s", lp.logPath, lp.logTail())
			}
			return "", newError(KindUnavailable, last, "engine at %s not ready", eng.proc.Addr())
		case <-tick.C:
		}
	}
}

// stopEngine stops eng for reason and forgets it.
func (m *Manager) stopEngine(eng *Engine, reason string) {
	m.stopEngineWithin(context.Background(), eng, reason, nil)
}

// stopEngineWithin stops eng for reason and forgets it. The process gets its grace period
// (Config.StopTimeout) before it is killed, or less if ctx ends first. signalled, if not
// nil, is called once the stop is under way: when Stop is called, or at once if another
// caller is already stopping eng.
func (m *Manager) stopEngineWithin(ctx context.Context, eng *Engine, reason string, signalled func()) {
	if signalled == nil {
		signalled = func() {}
	}
	if !eng.setStopping() {
		signalled()
		return
	}
	m.forgetEngine(eng)
	m.log.WithFields(logrus.Fields{"engine": eng.ID, "key": eng.Key, "pid": eng.proc.PID(), "reason": reason}).Info("stopping engine")
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StopTimeout+5*time.Second)
	defer cancel()
	signalled()
	_ = eng.proc.Stop(ctx)
	eng.markDead()
	_ = eng.conn.Close()
	m.obs.EngineChanged(EngineEvent{Type: EventStopped, ID: eng.ID, Key: eng.Key, User: eng.User, Reason: reason})
}

// loseEngine reports eng lost for reason, and stops it.
func (m *Manager) loseEngine(eng *Engine, reason string) {
	m.obs.EngineChanged(EngineEvent{Type: EventLost, ID: eng.ID, Key: eng.Key, User: eng.User, Reason: reason})
	m.stopEngine(eng, reason)
}

// forget removes a session from the registry and from its engine's count, and reports
// whether it was there. The caller reports the session closed to the observer.
func (m *Manager) forget(s *Session) bool {
	m.mu.Lock()
	if m.sessions[s.ID] != s {
		m.mu.Unlock()
		return false
	}
	delete(m.sessions, s.ID)
	eng := s.engine()
	m.released.add(s.ID, releasedSession{user: s.User, place: s.place, eng: eng, at: time.Now()})
	m.mu.Unlock()
	eng.removeSession()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	m.log.WithFields(logrus.Fields{"user": s.User, "session": s.ID, "engine": eng.ID}).Info("session closed")
	return true
}

// Engines lists the live engines, oldest first: those launching, ready, draining or
// stopping. The result is a copy.
func (m *Manager) Engines() []EngineInfo {
	m.mu.Lock()
	engines := make([]*Engine, 0, len(m.engines))
	for e := range m.engines {
		engines = append(engines, e)
	}
	out := make([]EngineInfo, 0, len(m.engines))
	for _, sl := range m.slots {
		select {
		case <-sl.ready:
			continue
		default:
		}
		out = append(out, EngineInfo{ID: sl.id, Key: sl.place.key, User: sl.place.runAs, ShareLevel: sl.place.level,
			Static: sl.place.static, Master: sl.place.master(m.cfg), State: EngineLaunching, Started: sl.started})
	}
	m.mu.Unlock()
	for _, e := range engines {
		out = append(out, e.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

// DrainEngine drains the engine with id for an operator: no new session goes to it (the
// next session of its key launches a fresh engine), and it stops once its sessions have
// ended, or after grace even with sessions left (0: at the next reap). It reports
// KindNotFound for an id that names no ready or draining engine.
func (m *Manager) DrainEngine(id string, grace time.Duration) (EngineInfo, error) {
	m.mu.Lock()
	var eng *Engine
	for e := range m.engines {
		if e.ID == id {
			eng = e
		}
	}
	if eng == nil {
		m.mu.Unlock()
		return EngineInfo{}, newError(KindNotFound, nil, "no running engine %s", id)
	}
	if sl, ok := m.slots[eng.Key]; ok && sl.eng == eng {
		delete(m.slots, eng.Key)
	}
	m.mu.Unlock()
	eng.drain("drained by an administrator", time.Now().Add(grace))
	m.log.WithFields(logrus.Fields{"engine": eng.ID, "key": eng.Key, "grace": grace}).Info("engine draining at an administrator's request")
	return eng.info(), nil
}

// CloseSession ends the session with id for every holder, as the idle reaper does, after
// cancelling its running operations (Operation.Cancel): it leaves the registry, its
// operations expire, and the engine-side session is released. The client's next call hears that the session is
// closed. It reports KindNotFound for an unknown id.
func (m *Manager) CloseSession(ctx context.Context, id string) error {
	m.mu.Lock()
	s, ok := m.sessions[id]
	m.mu.Unlock()
	if !ok {
		return newError(KindNotFound, nil, "no open session %s", id)
	}
	s.setEndReason("closed by an administrator")
	m.log.WithFields(logrus.Fields{"user": s.User, "session": s.ID}).Info("closing a session at an administrator's request")
	// Its running work is cancelled first, so that every frontend ends its client's calls
	// (not every engine interrupts a released session's executions).
	s.mu.Lock()
	ops := make([]*Operation, 0, len(s.ops))
	for _, op := range s.ops {
		ops = append(ops, op)
	}
	s.mu.Unlock()
	for _, op := range ops {
		if op.State() == OpRunning {
			_ = op.Cancel(ctx)
		}
	}
	// The release gets time of its own: slow interrupts may have spent ctx's.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.release(rctx, "admin")
}

// CancelOperation cancels the live operation with id, whichever session and protocol it
// belongs to (see Operation.Cancel). It reports KindNotFound for an unknown id.
func (m *Manager) CancelOperation(ctx context.Context, id string) (OperationInfo, error) {
	op := m.operation(id)
	if op == nil {
		return OperationInfo{}, newError(KindNotFound, nil, "no live operation %s", id)
	}
	m.log.WithFields(logrus.Fields{"user": op.s.User, "session": op.s.ID, "operation": id}).Info("cancelling an operation at an administrator's request")
	err := op.Cancel(ctx)
	return op.info(), err
}

// operation finds a live operation by id in any session.
func (m *Manager) operation(id string) *Operation {
	m.mu.Lock()
	sessions := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	for _, s := range sessions {
		if op := s.Operation(id); op != nil {
			return op
		}
	}
	return nil
}

// Draining reports whether Drain has been called: the bridge opens no new sessions.
func (m *Manager) Draining() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.draining
}

// Filter selects registry entries. An empty field matches everything.
type Filter struct {
	User     string
	Protocol string
	// State selects operations by state; sessions by whether they have an operation in it.
	State string
}

func (f Filter) matches(user, protocol string) bool {
	return (f.User == "" || f.User == user) && (f.Protocol == "" || f.Protocol == protocol)
}

// Sessions lists the live sessions that f selects, oldest first, each with its operations.
// The result is a copy: reading it races with nothing.
func (m *Manager) Sessions(f Filter) []SessionInfo {
	m.mu.Lock()
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		if f.matches(s.User, s.Protocol) {
			all = append(all, s)
		}
	}
	m.mu.Unlock()
	out := make([]SessionInfo, 0, len(all))
	for _, s := range all {
		in := s.info()
		if f.State != "" {
			keep := in.Operations[:0]
			for _, op := range in.Operations {
				if op.State == f.State {
					keep = append(keep, op)
				}
			}
			if in.Operations = keep; len(keep) == 0 {
				continue
			}
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Operations lists the live operations that f selects, of every session and protocol,
// oldest first.
func (m *Manager) Operations(f Filter) []OperationInfo {
	var out []OperationInfo
	for _, s := range m.Sessions(f) {
		out = append(out, s.Operations...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

// Close stops every engine the Manager launched and waits for them to exit, or for ctx to
// end: it returns ctx's error then, once every engine has at least been told to stop (a
// process still running when ctx ends is killed). A launch that completes during or after
// Close has its process stopped, never registered. Sessions still open fail from then on.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.closeCtx = ctx
	engines := make([]*Engine, 0, len(m.engines))
	for e := range m.engines {
		engines = append(engines, e)
	}
	m.mu.Unlock()

	m.cancel() // aborts launches in flight (start() stops their processes) and the reaper
	var signalled sync.WaitGroup
	for _, e := range engines {
		if m.detached(e) {
			// It outlives the bridge, recorded for the next one; it stops itself when idle.
			m.log.WithFields(logrus.Fields{"engine": e.ID, "key": e.Key, "app_id": e.appID}).Info("leaving detached engine running")
			_ = e.conn.Close()
			continue
		}
		signalled.Add(1)
		m.wg.Add(1)
		go func(e *Engine) {
			defer m.wg.Done()
			m.stopEngineWithin(ctx, e, "bridge shutdown", signalled.Done)
		}(e)
	}
	signalled.Wait()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		m.log.WithError(ctx.Err()).Warn("engines still stopping when the shutdown's time ran out")
		return ctx.Err()
	}
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}
