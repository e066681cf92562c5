package admin

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/engine"
)

// openAPI is the API's description, served at /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var openAPI []byte

// MaxStatement is how much of an operation's statement the API shows, in bytes.
const MaxStatement = 1000

// Session is a session as the API shows it.
type Session struct {
	ID         string      `json:"id"`
	User       string      `json:"user"`
	Protocol   string      `json:"protocol"`
	EngineID   string      `json:"engine_id"`
	Key        string      `json:"key"`
	Holders    int         `json:"holders"`
	Created    time.Time   `json:"created"`
	LastUsed   time.Time   `json:"last_used"`
	Operations []Operation `json:"operations"`
}

// Operation is an operation as the API shows it.
type Operation struct {
	ID        string `json:"id"`
	SessionID string `json:"session_id"`
	User      string `json:"user"`
	Protocol  string `json:"protocol"`
	EngineID  string `json:"engine_id"`
	Kind      string `json:"kind"`
	State     string `json:"state"`
	// Statement is the statement text, the metadata call or a plan summary, cut at
	// MaxStatement bytes (StatementTruncated says so).
	Statement          string     `json:"statement"`
	StatementTruncated bool       `json:"statement_truncated"`
	Started            time.Time  `json:"started"`
	Finished           *time.Time `json:"finished,omitempty"`
	LastUsed           time.Time  `json:"last_used"`
	RowsSent           int64      `json:"rows_sent"`
	BytesSent          int64      `json:"bytes_sent"`
}

// Engine is an engine as the API shows it.
type Engine struct {
	ID         string    `json:"id"`
	Key        string    `json:"key"`
	User       string    `json:"user"`
	ShareLevel string    `json:"share_level"`
	Static     string    `json:"static,omitempty"`
	State      string    `json:"state"`
	AppID      string    `json:"app_id,omitempty"`
	Master     string    `json:"master,omitempty"`
	PID        int       `json:"pid,omitempty"`
	Address    string    `json:"address,omitempty"`
	Sessions   int       `json:"sessions"`
	Started    time.Time `json:"started"`
	// IdleSeconds is how long the engine has had no session; 0 while it has some.
	IdleSeconds float64 `json:"idle_seconds"`
	// Cluster is the cluster manager's view of the engine's driver, on a cluster master.
	Cluster *ClusterView `json:"cluster,omitempty"`
}

// ClusterView is what the cluster manager (standalone Master, YARN, Kubernetes) last said of
// an engine's driver.
type ClusterView struct {
	State   string    `json:"state,omitempty"`
	Host    string    `json:"host,omitempty"`
	Checked time.Time `json:"checked"`
	Error   string    `json:"error,omitempty"`
}

// Failure is a recently failed operation as the API shows it.
type Failure struct {
	ID                 string    `json:"id"`
	SessionID          string    `json:"session_id"`
	User               string    `json:"user"`
	Protocol           string    `json:"protocol"`
	EngineID           string    `json:"engine_id"`
	Kind               string    `json:"kind"`
	Statement          string    `json:"statement"`
	StatementTruncated bool      `json:"statement_truncated"`
	Started            time.Time `json:"started"`
	Failed             time.Time `json:"failed"`
	// Error is the message the client was given.
	Error string `json:"error"`
}

func failureOf(in engine.Failure) Failure {
	op := in.Operation
	stmt, cut := truncate(op.Statement, MaxStatement)
	return Failure{ID: op.ID, SessionID: op.SessionID, User: op.User, Protocol: op.Protocol, EngineID: op.EngineID, Kind: op.Kind,
		Statement: stmt, StatementTruncated: cut, Started: op.Started, Failed: op.Finished, Error: in.Message}
}

func sessionOf(in engine.SessionInfo) Session {
	s := Session{ID: in.ID, User: in.User, Protocol: in.Protocol, EngineID: in.EngineID, Key: in.Key, Holders: in.Holders,
		Created: in.Created, LastUsed: in.LastUsed, Operations: make([]Operation, 0, len(in.Operations))}
	for _, op := range in.Operations {
		s.Operations = append(s.Operations, operationOf(op))
	}
	return s
}

func operationOf(in engine.OperationInfo) Operation {
	stmt, cut := truncate(in.Statement, MaxStatement)
	op := Operation{ID: in.ID, SessionID: in.SessionID, User: in.User, Protocol: in.Protocol, EngineID: in.EngineID, Kind: in.Kind,
		State: in.State, Statement: stmt, StatementTruncated: cut, Started: in.Started, LastUsed: in.LastUsed, RowsSent: in.Rows, BytesSent: in.Bytes}
	if !in.Finished.IsZero() {
		f := in.Finished
		op.Finished = &f
	}
	return op
}

func engineOf(in engine.EngineInfo) Engine {
	e := Engine{ID: in.ID, Key: in.Key, User: in.User, ShareLevel: string(in.ShareLevel), Static: in.Static, State: in.State, AppID: in.AppID,
		Master: in.Master, PID: in.PID, Address: in.Addr, Sessions: in.Sessions, Started: in.Started, IdleSeconds: in.Idle.Seconds()}
	if c := in.Cluster; !c.Checked.IsZero() {
		e.Cluster = &ClusterView{State: c.State, Host: c.Host, Checked: c.Checked, Error: c.Err}
	}
	return e
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// Valid filter values.
var (
	protocols       = []string{"thrift", "connect"}
	operationStates = []string{engine.OpRunning, engine.OpFinished, engine.OpError, engine.OpCanceled}
	engineStates    = []string{engine.EngineLaunching, engine.EngineReady, engine.EngineDraining, engine.EngineStopping, engine.EngineDead}
)

// filter reads the user, protocol and state query parameters, refusing any other and any
// unknown protocol or state (states: one of states, case-insensitive; nil: no state filter).
func filter(q url.Values, states []string) (engine.Filter, string) {
	var f engine.Filter
	for k := range q {
		switch {
		case states == nil && k == "state":
			return f, "unknown query parameter state (filters: user, protocol)"
		case k != "user" && k != "protocol" && k != "state":
			return f, "unknown query parameter " + k + " (filters: user, protocol, state)"
		}
	}
	f.User = q.Get("user")
	if f.Protocol = q.Get("protocol"); f.Protocol != "" && !contains(protocols, f.Protocol) {
		return f, "protocol " + f.Protocol + " is not one of " + strings.Join(protocols, ", ")
	}
	if st := q.Get("state"); st != "" {
		for _, s := range states {
			if strings.EqualFold(s, st) {
				f.State = s
			}
		}
		if f.State == "" {
			return f, "state " + st + " is not one of " + strings.Join(states, ", ")
		}
	}
	return f, ""
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	list(w, r, operationStates, "sessions", s.reg.Sessions, sessionOf)
}

func (s *Server) listOperations(w http.ResponseWriter, r *http.Request) {
	list(w, r, operationStates, "operations", s.reg.Operations, operationOf)
}

// listFailures lists the registry's recent failures, newest first, by user and protocol.
func (s *Server) listFailures(w http.ResponseWriter, r *http.Request) {
	list(w, r, nil, "failures", s.reg.RecentFailures, failureOf)
}

// list answers a GET of a registry list: the request's filter (states: the values its state
// filter may take), the entries fetch selects, each as the API shows it, under key.
func list[In, Out any](w http.ResponseWriter, r *http.Request, states []string, key string, fetch func(engine.Filter) []In, show func(In) Out) {
	f, bad := filter(r.URL.Query(), states)
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad)
		return
	}
	out := []Out{}
	for _, in := range fetch(f) {
		out = append(out, show(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{key: out})
}

// listEngines filters engines by the user they run as, their state, and the protocol of
// the sessions they serve (an engine serving a session of it).
func (s *Server) listEngines(w http.ResponseWriter, r *http.Request) {
	f, bad := filter(r.URL.Query(), engineStates)
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad)
		return
	}
	var serving map[string]bool
	if f.Protocol != "" {
		serving = map[string]bool{}
		for _, ss := range s.reg.Sessions(engine.Filter{Protocol: f.Protocol}) {
			serving[ss.EngineID] = true
		}
	}
	out := []Engine{}
	for _, in := range s.reg.Engines() {
		if f.User != "" && in.User != f.User || f.State != "" && in.State != f.State || serving != nil && !serving[in.ID] {
			continue
		}
		out = append(out, engineOf(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"engines": out})
}

// actionTimeout bounds the engine calls an action makes (a release, an interrupt).
const actionTimeout = 10 * time.Second

func (s *Server) closeSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
	defer cancel()
	err := s.reg.CloseSession(ctx, id)
	if engine.KindOf(err) == engine.KindNotFound {
		s.record(r, "close_session", id, err)
		writeError(w, statusOf(err), err.Error())
		return
	}
	// The session is closed on the bridge whatever the engine answered to its release.
	resp := map[string]any{"id": id, "closed": true}
	if err != nil {
		resp["engine_error"] = err.Error()
	}
	s.record(r, "close_session", id, nil)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) cancelOperation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
	defer cancel()
	in, err := s.reg.CancelOperation(ctx, id)
	if engine.KindOf(err) == engine.KindNotFound {
		s.record(r, "cancel_operation", id, err)
		writeError(w, statusOf(err), err.Error())
		return
	}
	// Cancelled on the bridge (its frontend ends the call) whatever the engine answered to
	// the interrupt.
	resp := map[string]any{"operation": operationOf(in)}
	if err != nil {
		resp["engine_error"] = err.Error()
	}
	s.record(r, "cancel_operation", id, nil)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) drainEngine(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	grace := s.cfg.EngineDrainGrace
	for k := range r.URL.Query() {
		if k != "grace" {
			writeError(w, http.StatusBadRequest, "unknown query parameter "+k+" (grace: a duration such as 30s)")
			return
		}
	}
	if g := r.URL.Query().Get("grace"); g != "" {
		d, err := time.ParseDuration(g)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "grace "+g+" is not a duration such as 30s or 0s")
			return
		}
		grace = d
	}
	in, err := s.reg.DrainEngine(id, grace)
	s.record(r, "drain_engine", id, err)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"engine": engineOf(in), "grace_seconds": grace.Seconds()})
}

func (s *Server) drain(w http.ResponseWriter, r *http.Request) {
	s.reg.Drain()
	s.record(r, "drain", "bridge", nil)
	writeJSON(w, http.StatusAccepted, map[string]any{"draining": true})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.reg.Draining():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
	case !s.ready.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	}
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPI)
}

// record logs an action and reports it to the audit hook.
func (s *Server) record(r *http.Request, action, target string, err error) {
	outcome := "ok"
	switch {
	case engine.KindOf(err) == engine.KindNotFound:
		outcome = "not_found"
	case err != nil:
		outcome = "error: " + err.Error()
	}
	s.log.WithFields(logrus.Fields{"actor": actor(r), "remote": r.RemoteAddr, "action": action, "target": target, "outcome": outcome}).Info("admin action")
	if s.cfg.Audit != nil {
		s.cfg.Audit.Admin(actor(r), action, target, err)
	}
}

// statusOf maps an engine-layer error to the API's HTTP status; it is the only such mapping.
func statusOf(err error) int {
	switch engine.KindOf(err) {
	case engine.KindNotFound:
		return http.StatusNotFound
	case engine.KindInvalidArgument:
		return http.StatusBadRequest
	case engine.KindPermissionDenied:
		return http.StatusForbidden
	case engine.KindUnavailable, engine.KindShuttingDown, engine.KindEngineLost:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError writes the API's error body, {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
