package metrics_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/metrics"
)

// With user labels, session and operation counters carry the user; never a session id.
func TestUserLabels(t *testing.T) {
	for _, on := range []bool{false, true} {
		mx := metrics.New(metrics.Config{UserLabels: on})
		s := engine.SessionInfo{ID: "3f1c0f4e-0000-4000-8000-000000000001", User: "alice", Protocol: "connect", Transport: "grpc"}
		mx.SessionOpened(s)
		mx.SessionOpenFailed(engine.SessionRequest{User: "bob", Protocol: "thrift", Transport: "http"}, errors.New("plain error"))
		now := time.Now()
		mx.OperationEnded(engine.OperationInfo{ID: "op", Kind: engine.KindExecute, State: engine.OpCanceled, User: "alice", Protocol: "connect",
			Started: now.Add(-time.Second), Ended: now})
		want := `
# HELP sparkbridge_sessions_opened_total Sessions opened (registered in the engine layer), by protocol.
# TYPE sparkbridge_sessions_opened_total counter
sparkbridge_sessions_opened_total{protocol="connect"} 1
# HELP sparkbridge_sessions_failed_total Session opens that failed, by protocol and error kind (unavailable, permission_denied, resource_exhausted, shutting_down, ...).
# TYPE sparkbridge_sessions_failed_total counter
sparkbridge_sessions_failed_total{protocol="hs2_http",reason="internal"} 1
# HELP sparkbridge_operations_finished_total Operations ended, by protocol, kind and outcome (ok, error, cancelled: cancelled, or closed while running).
# TYPE sparkbridge_operations_finished_total counter
sparkbridge_operations_finished_total{kind="execute",outcome="cancelled",protocol="connect"} 1
`
		if on {
			want = strings.NewReplacer(`{protocol="connect"}`, `{protocol="connect",user="alice"}`,
				`reason="internal"}`, `reason="internal",user="bob"}`,
				`protocol="connect"} 1`, `protocol="connect",user="alice"} 1`).Replace(want)
		}
		if err := testutil.GatherAndCompare(mx.Gatherer(), strings.NewReader(want),
			"sparkbridge_sessions_opened_total", "sparkbridge_sessions_failed_total", "sparkbridge_operations_finished_total"); err != nil {
			t.Errorf("user labels %v: %v", on, err)
		}
	}
}

// Every declared metric passes the Prometheus linter (names, units, help text).
func TestMetricsLint(t *testing.T) {
	mx := metrics.New(metrics.DefaultConfig())
	problems, err := testutil.GatherAndLint(mx.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "sparkbridge_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// The engine layer and the frontends feed the metrics through observer interfaces and link
// no Prometheus themselves.
func TestNoPrometheusBelowMetrics(t *testing.T) {
	for _, pkg := range []string{"engine", "thriftfront", "connectfront", "audit"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/sparkbridge/sparkbridge/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/prometheus/") || dep == "github.com/sparkbridge/sparkbridge/metrics" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
