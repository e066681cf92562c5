package audit

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sparkbridge/sparkbridge/engine"
)

// Config configures the audit log.
type Config struct {
	// Path is the audit log file.
	Path string
	// ProtectedConf lists the Spark conf keys and patterns whose values are redacted
	// (engine.MatchConf): the same list the Spark Connect frontend protects.
	ProtectedConf []string
	// MaxStatement bounds the statement text and error message of a line, in bytes.
	MaxStatement int
}

// DefaultConfig returns the defaults: no file, engine.ProtectedConf, statements cut at 4 KiB.
func DefaultConfig() Config {
	return Config{ProtectedConf: engine.ProtectedConf(), MaxStatement: 4096}
}

// Event types, the "event" field of a line.
const (
	EventSessionOpen       = "session_open"
	EventSessionOpenFailed = "session_open_failed"
	EventSessionClose      = "session_close"
	EventOperation         = "operation"
	EventAdmin             = "admin"
)

// Line is one audit log line. Empty fields are left out.
type Line struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	// Who, from where, over what.
	User       string `json:"user,omitempty"`
	ClientAddr string `json:"client_addr,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
	Transport  string `json:"transport,omitempty"`
	// Auth is how the user was authenticated: NONE, FILE, LDAP, KERBEROS, JWT.
	Auth      string `json:"auth,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	EngineID  string `json:"engine_id,omitempty"`
	// Operations: what ran, and how it ended.
	OperationID string `json:"operation_id,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Statement   string `json:"statement,omitempty"`
	// Outcome is ok, error or cancelled (operations, session opens and admin actions).
	Outcome    string `json:"outcome,omitempty"`
	Error      string `json:"error,omitempty"`
	Rows       *int64 `json:"rows,omitempty"`
	Bytes      *int64 `json:"bytes,omitempty"`
	DurationMS *int64 `json:"duration_ms,omitempty"`
	// Reason says why a session closed: closed, idle or detached.
	Reason string `json:"reason,omitempty"`
	// Admin actions.
	Actor  string `json:"actor,omitempty"`
	Action string `json:"action,omitempty"`
	Target string `json:"target,omitempty"`
}

// Log is the audit log file. It is safe for concurrent use; a nil *Log writes nothing.
type Log struct {
	cfg Config
	now func() time.Time

	// mu guards f, which is nil once closed, and orders the lines.
	mu sync.Mutex
	f  *os.File
}

var _ engine.Observer = (*Log)(nil)

// Open opens cfg.Path for appending, creating it with mode 0600.
func Open(cfg Config) (*Log, error) {
	if cfg.Path == "" {
		return nil, errors.New("audit: no file given")
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if cfg.MaxStatement <= 0 {
		cfg.MaxStatement = DefaultConfig().MaxStatement
	}
	return &Log{cfg: cfg, now: time.Now, f: f}, nil
}

// Close closes the file; later lines are dropped.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// write appends one line. A line that cannot be written is lost, never retried: the
// request that caused it must not wait for the disk.
func (l *Log) write(line Line) {
	if l == nil {
		return
	}
	line.Time = l.now().UTC()
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_, _ = l.f.Write(b)
	}
}

// Admin records an administrative action: actor (the admin user, or the client address of
// an unauthenticated admin listener) did action (drain, kill-session, stop-engine, ...) to
// target (a session, operation or engine id; empty for the bridge), which failed with err
// if err is not nil.
func (l *Log) Admin(actor, action, target string, err error) {
	line := Line{Event: EventAdmin, Actor: actor, Action: action, Target: target, Outcome: "ok"}
	if err != nil {
		line.Outcome, line.Error = "error", l.text(err.Error())
	}
	l.write(line)
}

// text redacts s and cuts it to the configured length.
func (l *Log) text(s string) string {
	return truncate(Redact(s, l.cfg.ProtectedConf), l.cfg.MaxStatement)
}

func ms(d time.Duration) *int64 {
	v := d.Milliseconds()
	return &v
}

func sessionLine(event string, s engine.SessionInfo) Line {
	return Line{Event: event, User: s.User, ClientAddr: s.ClientAddr, Protocol: s.Protocol, Transport: s.Transport,
		Auth: s.AuthMechanism, SessionID: s.ID, EngineID: s.EngineID}
}

// SessionOpened implements engine.Observer.
func (l *Log) SessionOpened(s engine.SessionInfo) {
	line := sessionLine(EventSessionOpen, s)
	line.Outcome = "ok"
	l.write(line)
}

// SessionOpenFailed implements engine.Observer.
func (l *Log) SessionOpenFailed(req engine.SessionRequest, err error) {
	if l == nil {
		return
	}
	l.write(Line{Event: EventSessionOpenFailed, User: req.User, ClientAddr: req.ClientAddr, Protocol: req.Protocol,
		Transport: req.Transport, Auth: req.AuthMechanism, SessionID: req.SessionID, Outcome: "error", Error: l.text(err.Error())})
}

// SessionClosed implements engine.Observer.
func (l *Log) SessionClosed(s engine.SessionInfo, reason string) {
	line := sessionLine(EventSessionClose, s)
	line.Reason = reason
	line.DurationMS = ms(l.nowOr().Sub(s.Created))
	l.write(line)
}

func (l *Log) nowOr() time.Time {
	if l == nil {
		return time.Now()
	}
	return l.now()
}

// OperationStarted implements engine.Observer: an operation is written when it ends.
func (l *Log) OperationStarted(engine.OperationInfo) {}

// OperationSent implements engine.Observer.
func (l *Log) OperationSent(string, string, int64, int64) {}

// OperationEnded implements engine.Observer.
func (l *Log) OperationEnded(op engine.OperationInfo) {
	if l == nil {
		return
	}
	rows, bytes := op.Rows, op.Bytes
	line := Line{Event: EventOperation, User: op.User, ClientAddr: op.ClientAddr, Protocol: op.Protocol, Transport: op.Transport,
		SessionID: op.SessionID, EngineID: op.EngineID, OperationID: op.ID, Kind: op.Kind, Statement: l.text(op.Statement),
		Outcome: outcome(op.State), Rows: &rows, Bytes: &bytes, DurationMS: ms(op.Ended.Sub(op.Started))}
	if op.Error != "" {
		line.Error = l.text(op.Error)
	}
	l.write(line)
}

// EngineChanged implements engine.Observer: engines are not audited (the bridge's log has them).
func (l *Log) EngineChanged(engine.EngineEvent) {}

// outcome is an ended operation's outcome: ok, error, or cancelled (cancelled, or closed
// while it ran).
func outcome(state string) string {
	switch state {
	case engine.OpFinished:
		return "ok"
	case engine.OpError:
		return "error"
	}
	return "cancelled"
}

// truncate cuts s to at most n bytes, marking the cut, without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
