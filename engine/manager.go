package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// Manager routes users to their engines and keeps the sessions of both frontends.
type Manager struct {
	cfg      Config
	launcher Launcher
	log      *logrus.Entry

	// ctx is cancelled by Close; launches run under it, not under the first caller's ctx,
	// so that one impatient client cannot abort a launch others are waiting for.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // launch and watch goroutines

	// mu guards slots, sessions and closed.
	mu       sync.Mutex
	slots    map[string]*slot
	sessions map[string]*Session
	closed   bool
}

// slot holds the engine of one key, or the launch that will produce it.
type slot struct {
	ready chan struct{} // closed when eng or err is set
	eng   *Engine
	err   error
}

// NewManager returns a Manager that launches engines with l.
func NewManager(cfg Config, l Launcher, log *logrus.Entry) *Manager {
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		cfg: cfg, launcher: l, log: log.WithField("component", "engine"),
		ctx: ctx, cancel: cancel,
		slots: map[string]*slot{}, sessions: map[string]*Session{},
	}
}

var errClosed = newError(KindUnavailable, nil, "the bridge is shutting down")

// OpenSession starts a new session for user on the user's engine, launching the engine if
// the user has none. protocol names the frontend ("thrift", "connect") for introspection.
func (m *Manager) OpenSession(ctx context.Context, user, protocol string) (*Session, error) {
	return m.attach(ctx, user, uuid.NewString(), protocol)
}

// AttachSession returns the session with id sessionID, creating it on user's engine if the
// bridge does not know it yet. A session id belongs to the user who first used it.
func (m *Manager) AttachSession(ctx context.Context, user, sessionID, protocol string) (*Session, error) {
	if _, err := uuid.Parse(sessionID); err != nil {
		return nil, newError(KindInvalidArgument, nil, "session id %q is not a UUID", sessionID)
	}
	return m.attach(ctx, user, sessionID, protocol)
}

func (m *Manager) attach(ctx context.Context, user, sessionID, protocol string) (*Session, error) {
	if user == "" {
		return nil, newError(KindInvalidArgument, nil, "no user given")
	}
	m.mu.Lock()
	if s, ok := m.sessions[sessionID]; ok {
		m.mu.Unlock()
		if s.User != user {
			return nil, newError(KindPermissionDenied, nil, "session %s belongs to another user", sessionID)
		}
		if !s.eng.alive() {
			m.forget(s)
			return nil, newError(KindUnavailable, nil, "the engine of session %s has stopped; open a new session", sessionID)
		}
		s.touch()
		return s, nil
	}
	m.mu.Unlock()

	eng, err := m.engineFor(ctx, user)
	if err != nil {
		return nil, err
	}
	s := &Session{ID: sessionID, User: user, Protocol: protocol, Created: time.Now(), eng: eng, m: m}
	s.touch()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	if prev, ok := m.sessions[sessionID]; ok { // lost a race with another attach of this id
		if prev.User != user {
			return nil, newError(KindPermissionDenied, nil, "session %s belongs to another user", sessionID)
		}
		return prev, nil
	}
	m.sessions[sessionID] = s
	m.log.WithFields(logrus.Fields{"user": user, "session": sessionID, "engine": eng.ID, "protocol": protocol}).Info("session opened")
	return s, nil
}

// engineFor returns the live engine for user's key, launching one if needed. Concurrent
// callers for one key share a single launch.
func (m *Manager) engineFor(ctx context.Context, user string) (*Engine, error) {
	key := user
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, errClosed
		}
		sl, ok := m.slots[key]
		if !ok {
			sl = &slot{ready: make(chan struct{})}
			m.slots[key] = sl
			m.wg.Add(1)
			go m.launch(key, user, sl)
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
		if sl.eng.alive() {
			return sl.eng, nil
		}
		// The engine died after launch; its watcher removes the slot. Try again.
		m.mu.Lock()
		if m.slots[key] == sl {
			delete(m.slots, key)
		}
		m.mu.Unlock()
	}
}

func (m *Manager) launch(key, user string, sl *slot) {
	defer m.wg.Done()
	log := m.log.WithFields(logrus.Fields{"user": user, "key": key})
	log.Info("launching engine")
	start := time.Now()
	eng, err := m.start(key, user)
	m.mu.Lock()
	if err != nil {
		delete(m.slots, key) // the next session tries again
		sl.err = err
	} else {
		sl.eng = eng
	}
	close(sl.ready)
	m.mu.Unlock()
	if err != nil {
		log.WithError(err).Error("engine launch failed")
		return
	}
	log.WithFields(logrus.Fields{"engine": eng.ID, "pid": eng.proc.PID(), "addr": eng.proc.Addr(), "took": time.Since(start).Round(time.Millisecond)}).Info("engine ready")

	m.wg.Add(1)
	go m.watch(key, sl, eng, log)
}

// watch forgets an engine whose process exits, so that the next session relaunches it.
func (m *Manager) watch(key string, sl *slot, eng *Engine, log *logrus.Entry) {
	defer m.wg.Done()
	select {
	case <-eng.proc.Done():
	case <-m.ctx.Done():
		return
	}
	eng.markDead()
	m.mu.Lock()
	if m.slots[key] == sl {
		delete(m.slots, key)
	}
	m.mu.Unlock()
	_ = eng.conn.Close()
	log.WithField("engine", eng.ID).Warn("engine process exited")
}

func (m *Manager) start(key, user string) (*Engine, error) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.StartTimeout)
	defer cancel()
	id := "engine-" + uuid.NewString()[:8]
	proc, err := m.launcher.Launch(ctx, Spec{Name: sanitize(user) + "-" + id[7:], User: user})
	if err != nil {
		return nil, launchError(ctx, err, m.cfg.StartTimeout)
	}
	conn, err := dialEngine(proc, m.cfg.MaxMessageSize)
	if err != nil {
		_ = proc.Stop(context.Background())
		return nil, newError(KindUnavailable, err, "cannot connect to engine")
	}
	eng := &Engine{ID: id, Key: key, User: user, Started: time.Now(), proc: proc, conn: conn, client: connect.NewSparkConnectServiceClient(conn)}
	if eng.Version, err = waitReady(ctx, eng); err != nil {
		_ = conn.Close()
		_ = proc.Stop(context.Background())
		return nil, launchError(ctx, err, m.cfg.StartTimeout)
	}
	return eng, nil
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
			v, err = probe(pctx, eng.client)
			cancel()
			if err == nil {
				return v, nil
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
			return "", last
		case <-tick.C:
		}
	}
}

func (m *Manager) forget(s *Session) {
	m.mu.Lock()
	if m.sessions[s.ID] == s {
		delete(m.sessions, s.ID)
	}
	m.mu.Unlock()
}

// Engines lists the engines that are running or launching.
func (m *Manager) Engines() []EngineInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []EngineInfo
	for _, sl := range m.slots {
		select {
		case <-sl.ready:
			if sl.eng != nil {
				out = append(out, sl.eng.info())
			}
		default:
		}
	}
	return out
}

// Sessions lists the live sessions.
func (m *Manager) Sessions() []SessionInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SessionInfo, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s.info())
	}
	return out
}

// Close stops every engine the Manager launched and waits for them to exit. Sessions still
// open fail from then on.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	var engines []*Engine
	for _, sl := range m.slots {
		select {
		case <-sl.ready:
			if sl.eng != nil {
				engines = append(engines, sl.eng)
			}
		default:
		}
	}
	m.mu.Unlock()

	m.cancel() // aborts launches in flight; their processes are stopped by start()
	var wg sync.WaitGroup
	for _, e := range engines {
		wg.Add(1)
		go func(e *Engine) {
			defer wg.Done()
			_ = e.conn.Close()
			_ = e.proc.Stop(ctx)
			e.markDead()
			m.log.WithFields(logrus.Fields{"engine": e.ID, "user": e.User, "pid": e.proc.PID()}).Info("engine stopped")
		}(e)
	}
	wg.Wait()
	m.wg.Wait()
	return nil
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
	return fmt.Sprintf("%s", b)
}
