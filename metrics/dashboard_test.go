package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/sparkbridge/sparkbridge/metrics"
)

// dashboard is what the test reads of a Grafana dashboard: its panels' queries, rows'
// nested panels included, and its template variables' queries.
type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// metricName matches the metric names a PromQL expression can use from this bridge: its
// own, and the Go runtime and process collectors'.
var metricName = regexp.MustCompile(`\b(?:sparkbridge|go|process)_[a-zA-Z0-9_]+\b`)

// Every metric the dashboard queries is one the registry declares, so a renamed or
// misspelt metric fails here rather than on an operator's screen.
func TestDashboardUsesDeclaredMetrics(t *testing.T) {
	data, err := os.ReadFile("../deploy/grafana/sparkbridge.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	mx := metrics.New(metrics.DefaultConfig())
	declared := map[string]bool{}
	for _, n := range mx.Names() {
		declared[n] = true
	}
	fams, err := mx.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		declared[f.GetName()] = true
	}
	var exprs []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	used := map[string]bool{}
	for _, e := range exprs {
		names := metricName.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("query %q uses no metric", e)
		}
		for _, n := range names {
			used[n] = true
			if !declared[n] {
				t.Errorf("query %q uses %s, which the registry does not declare", e, n)
			}
		}
	}
	// The panels the README promises.
	for _, n := range []string{"sparkbridge_sessions_active", "sparkbridge_operations_finished_total", "sparkbridge_operation_duration_seconds_bucket",
		"sparkbridge_rows_sent_total", "sparkbridge_bytes_sent_total", "sparkbridge_engines", "sparkbridge_engine_launch_duration_seconds_bucket",
		"sparkbridge_rpcs_total", "sparkbridge_auth_failures_total"} {
		if !used[n] {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
}
