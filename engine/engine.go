package engine

import (
	"crypto/tls"
	"errors"
	"sync"
	"time"
)

// Engine is one running Spark Connect server and the bridge's client connection to it.
type Engine struct {
	// ID is unique per launch; a relaunched engine for the same key gets a new ID.
	ID string
	// Key is the routing key the engine serves.
	Key string
	// User is the identity the engine runs as; empty for a SERVER engine.
	User  string
	Level ShareLevel
	// Static names the static engine this is, or is empty for a launched engine.
	Static  string
	Started time.Time
	// Version is the engine's Spark version, as it reported when it became ready.
	Version string
	// IdleTimeout stops the engine after this long without sessions; 0 means never.
	IdleTimeout time.Duration
	// Master is the Spark master the engine was launched on; empty for a static engine.
	Master string

	proc Process
	conn Conn
	// appID is the engine's Spark application id: registered by a cluster-mode driver,
	// asked of any other engine once it is ready.
	appID string
	// cm and ref reach the cluster manager that runs the engine's driver (or, in client
	// mode, its executors); cm is nil for a local master and static engines.
	cm  clusterManager
	ref driverRef

	// mu guards the fields below.
	mu       sync.Mutex
	dead     bool
	stopping bool
	draining bool
	// drainReason says why the engine drains; drainBy, when set, is when it stops even
	// with sessions left (an operator's drain has a grace period, the maximum lifetime none).
	drainReason string
	drainBy     time.Time
	sessions    int
	idleSince   time.Time // when sessions last dropped to 0
	probeFails  int
	lastProbe   time.Time
	// cluster is the cluster manager's last view of the driver.
	cluster DriverStatus
}

// EngineInfo describes an engine for introspection.
type EngineInfo struct {
	ID         string
	Key        string
	User       string
	ShareLevel ShareLevel
	Static     string
	PID        int
	Addr       string
	// AppID is the engine's Spark application id, when the bridge learnt it (a cluster-mode
	// engine registers it).
	AppID  string
	Master string
	// State is one of the Engine* states.
	State    string
	Sessions int
	Started  time.Time
	// Idle is how long the engine has had no sessions; 0 while it has some.
	Idle time.Duration
	// Cluster is the cluster manager's view of the engine's driver (state, host), as of its
	// last liveness probe; empty on a local master.
	Cluster DriverStatus
}

// Engine states, as EngineInfo reports them.
const (
	// EngineLaunching is an engine whose launch is under way: no process address yet.
	EngineLaunching = "launching"
	// EngineReady serves new sessions of its key.
	EngineReady = "ready"
	// EngineDraining serves the sessions it has, and no new ones; it stops once they end.
	EngineDraining = "draining"
	// EngineStopping is being stopped.
	EngineStopping = "stopping"
	// EngineDead has exited and is about to be forgotten.
	EngineDead = "dead"
)

func (e *Engine) info() EngineInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := EngineReady
	switch {
	case e.dead:
		st = EngineDead
	case e.stopping:
		st = EngineStopping
	case e.draining:
		st = EngineDraining
	}
	var idle time.Duration
	if e.sessions == 0 {
		idle = time.Since(e.idleSince)
	}
	return EngineInfo{ID: e.ID, Key: e.Key, User: e.User, ShareLevel: e.Level, Static: e.Static, PID: e.proc.PID(), Addr: e.proc.Addr(), AppID: e.appID,
		Master: e.Master, State: st, Sessions: e.sessions, Started: e.Started, Idle: idle, Cluster: e.cluster}
}

func (e *Engine) alive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.dead
}

func (e *Engine) markDead() {
	e.mu.Lock()
	e.dead = true
	e.mu.Unlock()
}

// setStopping marks the engine as being stopped; it reports false if it already was.
func (e *Engine) setStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return false
	}
	e.stopping = true
	return true
}

func (e *Engine) isStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}

// drain marks the engine draining for reason; with a non-zero by, it stops then at the
// latest. A drain already under way keeps its earlier deadline.
func (e *Engine) drain(reason string, by time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.draining || e.drainBy.IsZero() || by.Before(e.drainBy) {
		e.drainBy = by
	}
	if !e.draining {
		e.draining, e.drainReason = true, reason
	}
}

func (e *Engine) isDraining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.draining
}

func (e *Engine) addSession() {
	e.mu.Lock()
	e.sessions++
	e.mu.Unlock()
}

func (e *Engine) removeSession() {
	e.mu.Lock()
	e.sessions--
	if e.sessions == 0 {
		e.idleSince = time.Now()
	}
	e.mu.Unlock()
}

// tlsProcess is a Process reached over TLS.
type tlsProcess interface {
	TLSConfig() *tls.Config
}

// dial connects to a launched engine's process with the configured Dialer.
func (m *Manager) dial(p Process) (Conn, error) {
	if m.cfg.Dial == nil {
		return nil, errors.New("no engine dialer configured (engine.Config.Dial)")
	}
	var tlsConf *tls.Config
	if tp, ok := p.(tlsProcess); ok {
		tlsConf = tp.TLSConfig()
	}
	return m.cfg.Dial(p.Addr(), p.Token(), tlsConf, m.cfg.MaxMessageSize)
}

// appID is the Spark application id a process reported, or "".
func appID(p Process) string {
	if a, ok := p.(interface{ AppID() string }); ok {
		return a.AppID()
	}
	return ""
}
