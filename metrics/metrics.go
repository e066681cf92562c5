package metrics

import (
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sparkbridge/sparkbridge/engine"
)

// Config configures the metrics.
type Config struct {
	// UserLabels adds a user label to the session and operation metrics. Off by default:
	// every user is a new series, which a bridge with many users cannot afford.
	UserLabels bool
}

// DefaultConfig returns the defaults: no user labels.
func DefaultConfig() Config { return Config{} }

// Protocol label values: the frontend and, for HiveServer2, its transport.
const (
	ProtoHS2Binary = "hs2_binary"
	ProtoHS2HTTP   = "hs2_http"
	ProtoConnect   = "connect"
)

// Registry is what the metrics read of the engine layer at each scrape (*engine.Manager).
type Registry interface {
	Sessions(engine.Filter) []engine.SessionInfo
	Engines() []engine.EngineInfo
}

// Metrics is sparkbridge's metrics: a registry of its own, every metric declared once below.
type Metrics struct {
	cfg    Config
	reg    *prometheus.Registry
	names  map[string]struct{} // every sample name this package declares, histogram series included
	source atomic.Pointer[Registry]

	connsOpened, connsFailed       *prometheus.CounterVec
	connsActive                    *prometheus.GaugeVec
	sessionsOpened, sessionsFailed *prometheus.CounterVec
	sessionsClosed                 *prometheus.CounterVec
	opsStarted, opsFinished        *prometheus.CounterVec
	opDuration                     *prometheus.HistogramVec
	rowsSent, bytesSent            *prometheus.CounterVec
	rpcs                           *prometheus.CounterVec
	rpcDuration                    *prometheus.HistogramVec
	authFailures                   *prometheus.CounterVec
	launches, launchFailures       prometheus.Counter
	launchDuration                 prometheus.Histogram
	engineLosses                   prometheus.Counter

	// Read from the registry at each scrape.
	sessionsActive, opsRunning, engines *prometheus.Desc
}

var _ engine.Observer = (*Metrics)(nil)

// New declares every metric in a registry of its own, with the Go runtime and process
// collectors.
func New(cfg Config) *Metrics {
	m := &Metrics{cfg: cfg, reg: prometheus.NewRegistry(), names: map[string]struct{}{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var userLabel []string
	if cfg.UserLabels {
		userLabel = []string{"user"}
	}
	withUser := func(labels ...string) []string { return append(labels, userLabel...) }

	m.connsOpened = m.counter("sparkbridge_connections_opened_total",
		"Client connections accepted, by protocol (hs2_binary, hs2_http, connect).", "protocol")
	m.connsFailed = m.counter("sparkbridge_connections_failed_total",
		"Client connections refused or ended before they could serve a call, by protocol and reason "+
			"(limit: over a connection limit or cap; denied: a deny list; handshake: no valid SASL, NOSASL, HTTP/2 or first byte; auth: credentials refused).", "protocol", "reason")
	m.connsActive = m.gauge("sparkbridge_connections_active",
		"Client connections open now, by protocol.", "protocol")

	m.sessionsOpened = m.counter("sparkbridge_sessions_opened_total",
		"Sessions opened (registered in the engine layer), by protocol.", withUser("protocol")...)
	m.sessionsFailed = m.counter("sparkbridge_sessions_failed_total",
		"Session opens that failed, by protocol and error kind (unavailable, permission_denied, resource_exhausted, shutting_down, ...).",
		withUser("protocol", "reason")...)
	m.sessionsClosed = m.counter("sparkbridge_sessions_closed_total",
		"Sessions closed, by protocol and reason (closed: by the client; idle: by the idle reaper; detached: released by a Spark Connect client).",
		"protocol", "reason")
	m.sessionsActive = m.desc("sparkbridge_sessions_active",
		"Sessions open now, by protocol (read from the engine layer's registry).", withUser("protocol")...)

	m.opsStarted = m.counter("sparkbridge_operations_started_total",
		"Operations started, by protocol and kind (statement, metadata, execute).", withUser("protocol", "kind")...)
	m.opsFinished = m.counter("sparkbridge_operations_finished_total",
		"Operations ended, by protocol, kind and outcome (ok, error, cancelled: cancelled, or closed while running).",
		withUser("protocol", "kind", "outcome")...)
	m.opsRunning = m.desc("sparkbridge_operations_running",
		"Operations running now, by protocol and kind (read from the engine layer's registry).", "protocol", "kind")
	m.opDuration = m.histogram("sparkbridge_operation_duration_seconds",
		"Operation duration from start until it ended (its result fully sent, or it was closed), by protocol and kind.",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}, "protocol", "kind")
	m.rowsSent = m.counter("sparkbridge_rows_sent_total",
		"Result rows sent to clients, by protocol.", "protocol")
	m.bytesSent = m.counter("sparkbridge_bytes_sent_total",
		"Result bytes sent to clients (encoded row sets for HiveServer2, Arrow batches for Spark Connect), by protocol.", "protocol")

	m.rpcs = m.counter("sparkbridge_rpcs_total",
		"Calls served, by protocol, method (TCLIService method, or gRPC full method) and status "+
			"(HiveServer2 TStatusCode such as SUCCESS_STATUS or ERROR_STATUS; gRPC code such as OK or Unavailable).",
		"protocol", "method", "code")
	m.rpcDuration = m.histogram("sparkbridge_rpc_duration_seconds",
		"Call duration, by protocol and method.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "protocol", "method")
	m.authFailures = m.counter("sparkbridge_auth_failures_total",
		"Failed logins, by protocol and mechanism (plain: SASL PLAIN; basic: HTTP Basic; bearer: Spark Connect token).",
		"protocol", "mechanism")

	m.engines = m.desc("sparkbridge_engines",
		"Engines by state: launching, ready (serving sessions), draining (past their maximum lifetime).", "state")
	m.launches = m.counter("sparkbridge_engine_launches_total", "Engine launches begun.").WithLabelValues()
	m.launchFailures = m.counter("sparkbridge_engine_launch_failures_total", "Engine launches that failed.").WithLabelValues()
	m.launchDuration = m.histogram("sparkbridge_engine_launch_duration_seconds",
		"Time from an engine launch's start until the engine answered (successful launches).",
		[]float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300}).WithLabelValues().(prometheus.Histogram)
	m.engineLosses = m.counter("sparkbridge_engine_losses_total",
		"Engines lost: their process exited, or they stopped answering, without the bridge stopping them.").WithLabelValues()

	m.reg.MustRegister(registryCollector{m})
	return m
}

func (m *Metrics) counter(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	m.names[name] = struct{}{}
	return v
}

func (m *Metrics) gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	m.names[name] = struct{}{}
	return v
}

func (m *Metrics) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.reg.MustRegister(v)
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		m.names[name+suffix] = struct{}{}
	}
	return v
}

// desc declares a gauge read from the engine layer's registry at each scrape.
func (m *Metrics) desc(name, help string, labels ...string) *prometheus.Desc {
	m.names[name] = struct{}{}
	return prometheus.NewDesc(name, help, labels, nil)
}

// ReadFrom makes the scrape read sessions, operations and engines from r.
func (m *Metrics) ReadFrom(r Registry) { m.source.Store(&r) }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Gatherer is the registry, for tests and other exporters.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Names lists the sample names sparkbridge declares (histograms with their _bucket, _sum and
// _count series), sorted. The Go runtime and process collectors' names are not included.
func (m *Metrics) Names() []string {
	out := make([]string, 0, len(m.names))
	for n := range m.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Label returns the protocol label of a session's protocol and transport.
func Label(protocol, transport string) string {
	switch {
	case protocol == "connect":
		return ProtoConnect
	case protocol == "thrift" && transport == "http":
		return ProtoHS2HTTP
	case protocol == "thrift":
		return ProtoHS2Binary
	}
	return "other"
}

// Outcome is an ended operation's outcome label: ok, error or cancelled.
func Outcome(state string) string {
	switch state {
	case engine.OpFinished:
		return "ok"
	case engine.OpError:
		return "error"
	}
	return "cancelled" // cancelled, or closed while it ran
}

// reason turns an error kind into a label value.
func reason(err error) string {
	return strings.ReplaceAll(engine.KindOf(err).String(), " ", "_")
}

// registryCollector reports what the engine layer's registry holds now.
type registryCollector struct{ m *Metrics }

func (c registryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.sessionsActive
	ch <- c.m.opsRunning
	ch <- c.m.engines
}

func (c registryCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	counts := map[string]float64{"launching": 0, "ready": 0, "draining": 0}
	sessions := map[[2]string]float64{}
	running := map[[2]string]float64{}
	if !m.cfg.UserLabels {
		for _, p := range []string{ProtoHS2Binary, ProtoHS2HTTP, ProtoConnect} {
			sessions[[2]string{p}] = 0
		}
	}
	if src := m.source.Load(); src != nil {
		r := *src
		// Engines lists launches in flight too.
		for _, e := range r.Engines() {
			switch e.State {
			case engine.EngineLaunching, engine.EngineReady, engine.EngineDraining:
				counts[e.State]++
			}
		}
		for _, s := range r.Sessions(engine.Filter{}) {
			p := Label(s.Protocol, s.Transport)
			key := [2]string{p}
			if m.cfg.UserLabels {
				key[1] = s.User
			}
			sessions[key]++
			for _, op := range s.Operations {
				if op.State == engine.OpRunning {
					running[[2]string{p, op.Kind}]++
				}
			}
		}
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.engines, prometheus.GaugeValue, n, state)
	}
	for k, n := range sessions {
		labels := []string{k[0]}
		if m.cfg.UserLabels {
			labels = append(labels, k[1])
		}
		ch <- prometheus.MustNewConstMetric(m.sessionsActive, prometheus.GaugeValue, n, labels...)
	}
	for k, n := range running {
		ch <- prometheus.MustNewConstMetric(m.opsRunning, prometheus.GaugeValue, n, k[0], k[1])
	}
}
