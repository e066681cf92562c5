package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/engine"
)

// Registry is what the admin API needs of the engine layer; engine.Manager implements it.
type Registry interface {
	Sessions(engine.Filter) []engine.SessionInfo
	Operations(engine.Filter) []engine.OperationInfo
	Engines() []engine.EngineInfo
	RecentFailures(engine.Filter) []engine.Failure
	CloseSession(ctx context.Context, id string) error
	CancelOperation(ctx context.Context, id string) (engine.OperationInfo, error)
	DrainEngine(id string, grace time.Duration) (engine.EngineInfo, error)
	Drain()
	Draining() bool
}

var _ Registry = (*engine.Manager)(nil)

// Audit records what administrators do (audit.Log is one). Admin is called once per action
// with the authenticated actor ("" on an open loopback server), the action (close_session,
// cancel_operation, drain_engine, drain), its target id, and the action's error, if any.
type Audit interface {
	Admin(actor, action, target string, err error)
}

// Config configures the admin server.
type Config struct {
	// Addr is the listen address, for the security rules: a loopback host may serve open.
	Addr string
	// TLS serves HTTPS; required off loopback.
	TLS *tls.Config
	// Auth checks administrators' Basic credentials; the provider the clients use.
	Auth auth.Provider
	// Admins are the users allowed in. Empty: nobody, except on an open loopback server.
	Admins []string
	// EngineDrainGrace is how long a drained engine (DELETE /api/v1/engines/{id} without
	// ?grace=) keeps serving its sessions before it stops.
	EngineDrainGrace time.Duration
	// Metrics, when set, is served at /metrics (the metrics package's handler).
	Metrics http.Handler
	// Audit, when set, hears of every action.
	Audit Audit
}

// DefaultAddr is where the admin server listens by default: loopback only.
const DefaultAddr = "127.0.0.1:10019"

// DefaultConfig returns the defaults: loopback, open, a 60 s engine drain grace.
func DefaultConfig() Config {
	return Config{Addr: DefaultAddr, EngineDrainGrace: time.Minute}
}

// Server is the admin HTTP server.
type Server struct {
	cfg     Config
	reg     Registry
	log     *logrus.Entry
	open    bool // no credentials asked: loopback without an admins list
	ready   atomic.Bool
	srv     *http.Server
	handler http.Handler
}

// IsLoopback reports whether addr's host is a loopback address or "localhost". An empty
// host (every interface) is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// check enforces the security rules on cfg.
func check(cfg Config) error {
	// An admins list means passwords are checked, wherever the port listens: an auth
	// provider that trusts every user name would let anyone claim an admin's name.
	if len(cfg.Admins) > 0 && (cfg.Auth == nil || cfg.Auth.TrustsClients()) {
		return fmt.Errorf("-admins needs an auth provider that checks passwords (-auth FILE), not one that trusts every user name")
	}
	if IsLoopback(cfg.Addr) {
		return nil
	}
	switch {
	case cfg.TLS == nil:
		return fmt.Errorf("admin address %s is not loopback: it needs TLS (-admin-tls-cert and -admin-tls-key), or bind it to 127.0.0.1", cfg.Addr)
	case len(cfg.Admins) == 0:
		return fmt.Errorf("admin address %s is not loopback: it needs an admins list (-admins alice,bob) of users allowed in", cfg.Addr)
	case cfg.Auth == nil || cfg.Auth.TrustsClients():
		return fmt.Errorf("admin address %s is not loopback: it needs an auth provider that checks passwords (-auth FILE), not one that trusts every user name", cfg.Addr)
	}
	return nil
}

// New returns the admin server for reg, or an error when cfg breaks the security rules.
func New(cfg Config, reg Registry, log *logrus.Entry) (*Server, error) {
	if err := check(cfg); err != nil {
		return nil, err
	}
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	if cfg.Auth == nil {
		cfg.Auth = auth.None{}
	}
	s := &Server{cfg: cfg, reg: reg, log: log.WithField("component", "admin"), open: IsLoopback(cfg.Addr) && len(cfg.Admins) == 0}
	s.handler = s.routes()
	s.srv = &http.Server{Handler: s.handler, TLSConfig: cfg.TLS, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return s, nil
}

// Handler is the server's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// SetReady says whether the bridge serves clients; /readyz answers 503 until it does.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Serve serves on ln (with TLS when configured) until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.log.WithFields(logrus.Fields{"addr": ln.Addr().String(), "tls": s.cfg.TLS != nil, "open": s.open}).Info("admin API and console listening")
	var err error
	if s.cfg.TLS != nil {
		err = s.srv.Serve(tls.NewListener(ln, s.cfg.TLS))
	} else {
		err = s.srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server, waiting for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}

// route is one path the server serves, with its methods and whether it is part of the
// API that openapi.yaml describes.
type route struct {
	pattern string // a net/http pattern without method
	methods map[string]http.HandlerFunc
	public  bool // no credentials asked: health probes
}

// routeTable lists every route; openapi_test holds openapi.yaml to it.
func (s *Server) routeTable() []route {
	rs := []route{
		{pattern: "/healthz", methods: map[string]http.HandlerFunc{http.MethodGet: s.healthz}, public: true},
		{pattern: "/readyz", methods: map[string]http.HandlerFunc{http.MethodGet: s.readyz}, public: true},
		{pattern: "/api/v1/openapi.yaml", methods: map[string]http.HandlerFunc{http.MethodGet: serveOpenAPI}},
		{pattern: "/api/v1/sessions", methods: map[string]http.HandlerFunc{http.MethodGet: s.listSessions}},
		{pattern: "/api/v1/sessions/{id}", methods: map[string]http.HandlerFunc{http.MethodDelete: s.closeSession}},
		{pattern: "/api/v1/operations", methods: map[string]http.HandlerFunc{http.MethodGet: s.listOperations}},
		{pattern: "/api/v1/operations/{id}", methods: map[string]http.HandlerFunc{http.MethodDelete: s.cancelOperation}},
		{pattern: "/api/v1/failures", methods: map[string]http.HandlerFunc{http.MethodGet: s.listFailures}},
		{pattern: "/api/v1/engines", methods: map[string]http.HandlerFunc{http.MethodGet: s.listEngines}},
		{pattern: "/api/v1/engines/{id}", methods: map[string]http.HandlerFunc{http.MethodDelete: s.drainEngine}},
		{pattern: "/api/v1/drain", methods: map[string]http.HandlerFunc{http.MethodPost: s.drain}},
		{pattern: "/debug/pprof/{profile...}", methods: map[string]http.HandlerFunc{http.MethodGet: pprofHandler, http.MethodPost: pprofHandler}},
	}
	if s.cfg.Metrics != nil {
		rs = append(rs, route{pattern: "/metrics", methods: map[string]http.HandlerFunc{http.MethodGet: s.cfg.Metrics.ServeHTTP}})
	}
	return rs
}

// routes is the whole surface: the API and the console, behind the cross-origin check.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, r := range append(s.routeTable(), s.consoleRoutes()...) {
		h := dispatch(r.methods)
		if !r.public {
			h = s.authenticated(h)
		}
		mux.Handle(r.pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (see /api/v1/openapi.yaml)")
	})
	// A web page elsewhere must not make an administrator's browser act here: browsers send
	// Basic credentials (and reach an open loopback server) whatever page asks. Every
	// request but GET, HEAD and OPTIONS whose Sec-Fetch-Site or Origin says it comes from
	// another origin is refused; clients that are not browsers (curl, sparkbridge admin)
	// send neither header and pass.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.WithFields(logrus.Fields{"remote": r.RemoteAddr, "method": r.Method, "path": r.URL.Path, "origin": r.Header.Get("Origin"),
			"sec_fetch_site": r.Header.Get("Sec-Fetch-Site")}).Warn("admin request from another origin refused")
		writeError(w, http.StatusForbidden, "cross-origin request refused: the admin API acts only on requests from its own pages or from clients that are not browsers")
	}))
	return cop.Handler(mux)
}

// dispatch serves a route's methods, and 405 with Allow for any other.
func dispatch(methods map[string]http.HandlerFunc) http.Handler {
	allowed := make([]string, 0, len(methods))
	for m := range methods {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		if m == http.MethodHead {
			m = http.MethodGet
		}
		h, ok := methods[m]
		if !ok {
			for _, a := range allowed {
				w.Header().Add("Allow", a)
			}
			writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here")
			return
		}
		h(w, r)
	})
}

// pprofHandler serves Go's runtime profiles: the index and every named profile.
func pprofHandler(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("profile") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}

// actorKey carries the authenticated administrator in a request's context.
type actorKey struct{}

func actor(r *http.Request) string {
	a, _ := r.Context().Value(actorKey{}).(string)
	return a
}

// authenticated asks for Basic credentials of an administrator, unless the server is open.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.open {
			// Open to local users, not to web sites: a name of another site that resolves to
			// 127.0.0.1 (DNS rebinding) would make this the browser's same origin.
			if !IsLoopback(r.Host) {
				writeError(w, http.StatusForbidden, "this admin server is open on loopback and answers only requests addressed to a loopback host, not "+r.Host)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="sparkbridge admin", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "authentication required: HTTP Basic credentials of an administrator")
			return
		}
		ctx := auth.WithClientAddr(r.Context(), r.RemoteAddr)
		id, err := s.cfg.Auth.Password(ctx, user, pass)
		if err != nil {
			s.log.WithFields(logrus.Fields{"user": user, "remote": r.RemoteAddr}).Warn("admin login refused")
			w.Header().Set("WWW-Authenticate", `Basic realm="sparkbridge admin", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "invalid credentials")
			return
		}
		if !slices.Contains(s.cfg.Admins, id.User) {
			s.log.WithFields(logrus.Fields{"user": id.User, "remote": r.RemoteAddr, "path": r.URL.Path}).Warn("admin API refused to a user who is not an administrator")
			writeError(w, http.StatusForbidden, "user "+id.User+" is not an administrator of this bridge")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, id.User)))
	})
}
