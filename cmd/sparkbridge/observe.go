package main

import (
	"net"
	"net/http"

	"github.com/sparkbridge/sparkbridge/admin"
	"github.com/sparkbridge/sparkbridge/audit"
	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/metrics"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// observability is what the bridge reports on itself with: the metrics (nil with
// -metrics=false) and the audit log (nil without -audit-log).
type observability struct {
	mx *metrics.Metrics
	al *audit.Log
}

// openObservability makes the metrics when metricsOn, and opens the audit log at auditPath
// when it is not empty, redacting protected (the Spark Connect frontend's protected conf).
func openObservability(metricsOn, userLabels bool, auditPath string, protected []string) (*observability, error) {
	o := &observability{}
	if metricsOn {
		o.mx = metrics.New(metrics.Config{UserLabels: userLabels})
	}
	if auditPath != "" {
		lcfg := audit.DefaultConfig()
		lcfg.Path, lcfg.ProtectedConf = auditPath, protected
		al, err := audit.Open(lcfg)
		if err != nil {
			return nil, err
		}
		o.al = al
	}
	return o, nil
}

// wire hangs them on the bridge: the engine layer's one observer hook feeds both, the
// frontends' observers feed the metrics, the admin server serves /metrics and reports its
// actions to the audit log. What is off is not installed at all, not even as a no-op, so
// that a bridge without them pays nothing for them (-metrics=false is what bench's
// overhead measurement compares against).
func (o *observability) wire(ecfg *engine.Config, tcfg *thriftfront.Config, ccfg *connectfront.Config, acfg *admin.Config) {
	var observers engine.Observers
	if o.mx != nil {
		observers = append(observers, o.mx)
		tcfg.Observer, ccfg.Observer = o.mx, o.mx
		acfg.Metrics = o.mx.Handler()
	}
	if o.al != nil {
		observers = append(observers, o.al)
		acfg.Audit = o.al
	}
	switch len(observers) {
	case 0:
		ecfg.Observer = nil
	case 1:
		ecfg.Observer = observers[0]
	default:
		ecfg.Observer = observers
	}
}

// readFrom makes the metrics read the engine registry at each scrape.
func (o *observability) readFrom(r metrics.Registry) {
	if o.mx != nil {
		o.mx.ReadFrom(r)
	}
}

// refused counts a connection refused over a listener's limit; nil without metrics.
func (o *observability) refused(protocol string) func() {
	if o.mx == nil {
		return nil
	}
	return func() { o.mx.ConnFailed(protocol, "limit") }
}

// connState is the http.Server ConnState hook of a transport; nil without metrics.
func (o *observability) connState(protocol string) func(net.Conn, http.ConnState) {
	if o.mx == nil {
		return nil
	}
	return o.mx.ConnState(protocol)
}

// close closes the audit log, after the shutdown has stopped every session and engine.
func (o *observability) close() error { return o.al.Close() }
