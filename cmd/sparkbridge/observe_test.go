package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/sparkbridge/sparkbridge/admin"
	"github.com/sparkbridge/sparkbridge/audit"
	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/metrics"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

// The config file's "metrics" key is -metrics: absent leaves the flag's default (on).
func TestConfigFileMetricsKey(t *testing.T) {
	for body, want := range map[string]*bool{`{"metrics": false}`: new(false), `{"metrics": true}`: new(true), `{}`: nil} {
		fc, err := loadConfigFile(writeConfig(t, body))
		if err != nil {
			t.Fatal(err)
		}
		if (fc.Metrics == nil) != (want == nil) || (want != nil && *fc.Metrics != *want) {
			t.Errorf("%s: metrics = %v, want %v", body, fc.Metrics, want)
		}
	}
}

// wired is what wire installs on the bridge's configs, with the admin server it makes.
func wired(t *testing.T, metricsOn bool, auditPath string) (engine.Config, thriftfront.Config, connectfront.Config, http.Handler) {
	t.Helper()
	o, err := openObservability(metricsOn, false, auditPath, engine.ProtectedConf())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.close() })
	ecfg, tcfg, ccfg, acfg := engine.DefaultConfig(), thriftfront.DefaultConfig(), connectfront.DefaultConfig(), admin.DefaultConfig()
	acfg.Addr = "127.0.0.1:0"
	o.wire(&ecfg, &tcfg, &ccfg, &acfg)
	log, _ := test.NewNullLogger()
	entry := logrus.NewEntry(log)
	mgr := engine.NewManager(engine.DefaultConfig(), engine.Static{Addr: "127.0.0.1:1"}, entry)
	t.Cleanup(func() { _ = mgr.Close(context.Background()) })
	o.readFrom(mgr)
	srv, err := admin.New(acfg, mgr, entry)
	if err != nil {
		t.Fatal(err)
	}
	return ecfg, tcfg, ccfg, srv.Handler()
}

func getMetrics(h http.Handler) int {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Host, req.RemoteAddr = "127.0.0.1:10019", "127.0.0.1:40000"
	h.ServeHTTP(rec, req)
	return rec.Code
}

// -metrics=false installs no observer anywhere and does not mount /metrics; the audit log
// alone is then the engine layer's whole observer.
func TestMetricsOff(t *testing.T) {
	ecfg, tcfg, ccfg, h := wired(t, false, "")
	if ecfg.Observer != nil || tcfg.Observer != nil || ccfg.Observer != nil {
		t.Fatalf("observers with metrics and audit off: engine %v, thrift %v, connect %v", ecfg.Observer, tcfg.Observer, ccfg.Observer)
	}
	if code := getMetrics(h); code != http.StatusNotFound {
		t.Fatalf("/metrics with metrics off: %d, want 404", code)
	}

	ecfg, tcfg, ccfg, h = wired(t, false, filepath.Join(t.TempDir(), "audit.log"))
	if _, ok := ecfg.Observer.(*audit.Log); !ok || tcfg.Observer != nil || ccfg.Observer != nil {
		t.Fatalf("observers with the audit log alone: engine %T, thrift %v, connect %v", ecfg.Observer, tcfg.Observer, ccfg.Observer)
	}
	if code := getMetrics(h); code != http.StatusNotFound {
		t.Fatalf("/metrics with metrics off: %d, want 404", code)
	}
}

// By default both are wired: the engine hook fans out to the metrics and the audit log, the
// frontends report to the metrics, and /metrics serves them.
func TestMetricsOn(t *testing.T) {
	ecfg, tcfg, ccfg, h := wired(t, true, filepath.Join(t.TempDir(), "audit.log"))
	obs, ok := ecfg.Observer.(engine.Observers)
	if !ok || len(obs) != 2 {
		t.Fatalf("engine observer %T %v, want the metrics and the audit log", ecfg.Observer, ecfg.Observer)
	}
	if _, ok := obs[0].(*metrics.Metrics); !ok {
		t.Fatalf("first engine observer %T, want *metrics.Metrics", obs[0])
	}
	if _, ok := obs[1].(*audit.Log); !ok {
		t.Fatalf("second engine observer %T, want *audit.Log", obs[1])
	}
	if _, ok := tcfg.Observer.(*metrics.Metrics); !ok {
		t.Fatalf("thrift observer %T", tcfg.Observer)
	}
	if _, ok := ccfg.Observer.(*metrics.Metrics); !ok {
		t.Fatalf("connect observer %T", ccfg.Observer)
	}
	if code := getMetrics(h); code != http.StatusOK {
		t.Fatalf("/metrics with metrics on: %d, want 200", code)
	}
}
