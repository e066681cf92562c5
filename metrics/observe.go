package metrics

import (
	"net"
	"net/http"
	"time"

	"github.com/sparkbridge/sparkbridge/engine"
)

// The engine layer's events (engine.Observer).

// SessionOpened implements engine.Observer.
func (m *Metrics) SessionOpened(s engine.SessionInfo) {
	m.sessionsOpened.WithLabelValues(m.withUser(s.User, Label(s.Protocol, s.Transport))...).Inc()
}

// SessionOpenFailed implements engine.Observer.
func (m *Metrics) SessionOpenFailed(req engine.SessionRequest, err error) {
	m.sessionsFailed.WithLabelValues(m.withUser(req.User, Label(req.Protocol, req.Transport), reason(err))...).Inc()
}

// SessionClosed implements engine.Observer.
func (m *Metrics) SessionClosed(s engine.SessionInfo, why string) {
	m.sessionsClosed.WithLabelValues(Label(s.Protocol, s.Transport), why).Inc()
}

// OperationStarted implements engine.Observer.
func (m *Metrics) OperationStarted(op engine.OperationInfo) {
	m.opsStarted.WithLabelValues(m.withUser(op.User, Label(op.Protocol, op.Transport), op.Kind)...).Inc()
}

// OperationSent implements engine.Observer.
func (m *Metrics) OperationSent(protocol, transport string, rows, bytes int64) {
	p := Label(protocol, transport)
	m.rowsSent.WithLabelValues(p).Add(float64(rows))
	m.bytesSent.WithLabelValues(p).Add(float64(bytes))
}

// OperationEnded implements engine.Observer.
func (m *Metrics) OperationEnded(op engine.OperationInfo) {
	p := Label(op.Protocol, op.Transport)
	m.opsFinished.WithLabelValues(m.withUser(op.User, p, op.Kind, Outcome(op.State))...).Inc()
	m.opDuration.WithLabelValues(p, op.Kind).Observe(op.Ended.Sub(op.Started).Seconds())
}

// EngineChanged implements engine.Observer.
func (m *Metrics) EngineChanged(e engine.EngineEvent) {
	switch e.Type {
	case engine.EventLaunching:
		m.launches.Inc()
	case engine.EventReady:
		m.launchDuration.Observe(e.Took.Seconds())
	case engine.EventLaunchFailed:
		m.launchFailures.Inc()
	case engine.EventLost:
		m.engineLosses.Inc()
	}
}

func (m *Metrics) withUser(user string, labels ...string) []string {
	if m.cfg.UserLabels {
		return append(labels, user)
	}
	return labels
}

// The frontends' events (thriftfront.Observer, connectfront.Observer).

// ConnOpened counts a connection accepted.
func (m *Metrics) ConnOpened(protocol string) {
	m.connsOpened.WithLabelValues(protocol).Inc()
	m.connsActive.WithLabelValues(protocol).Inc()
}

// ConnClosed counts a connection ended; every ConnOpened has one.
func (m *Metrics) ConnClosed(protocol string) {
	m.connsActive.WithLabelValues(protocol).Dec()
}

// ConnFailed counts a connection refused (reason "limit") or ended before it could serve a
// call ("handshake").
func (m *Metrics) ConnFailed(protocol, reason string) {
	m.connsFailed.WithLabelValues(protocol, reason).Inc()
}

// RPC counts a call served: its method and status, and its duration.
func (m *Metrics) RPC(protocol, method, code string, d time.Duration) {
	m.rpcs.WithLabelValues(protocol, method, code).Inc()
	m.rpcDuration.WithLabelValues(protocol, method).Observe(d.Seconds())
}

// AuthFailed counts a failed login.
func (m *Metrics) AuthFailed(protocol, mechanism string) {
	m.authFailures.WithLabelValues(protocol, mechanism).Inc()
}

// ConnState is an http.Server ConnState hook that counts the server's connections under
// protocol: for the HiveServer2 HTTP transport, whose connections net/http owns.
func (m *Metrics) ConnState(protocol string) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			m.ConnOpened(protocol)
		case http.StateClosed, http.StateHijacked:
			m.ConnClosed(protocol)
		}
	}
}
