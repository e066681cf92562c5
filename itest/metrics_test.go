package itest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sparkbridge/sparkbridge/auth"
)

// scrapeMetrics reads url (a /metrics endpoint) as Prometheus does and returns every
// sparkbridge_ counter and gauge sample as name{k=v,...}, labels sorted.
func scrapeMetrics(t *testing.T, client *http.Client, url string) map[string]float64 {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "sparkbridge_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			key := name + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count{"+strings.Join(ls, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// auditLine is what the test reads of an audit log line. (itest cannot import package
// audit: it links the bridge's generated Spark Connect code, which clashes with
// spark-connect-go's.)
type auditLine struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	User       string    `json:"user"`
	ClientAddr string    `json:"client_addr"`
	Protocol   string    `json:"protocol"`
	Transport  string    `json:"transport"`
	EngineID   string    `json:"engine_id"`
	Statement  string    `json:"statement"`
	Outcome    string    `json:"outcome"`
	Rows       *int64    `json:"rows"`
	DurationMS *int64    `json:"duration_ms"`
}

// TestMetricsAndAuditLog runs a bridge of its own with a users file, /metrics on its admin
// port and an audit log, routes alice to the harness engine, and runs a known workload
// with beeline and PySpark: the scraped counters move by exactly what the workload did, and
// the audit file has a JSON line per session and statement with no password, token,
// engine secret or secret conf value in it.
func TestMetricsAndAuditLog(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "metrics-")
	if err != nil {
		t.Fatal(err)
	}
	const (
		password   = "alice-Itest-Pw-7731"
		token      = "alice-Itest-Token-0194"
		confSecret = "conf-Itest-Secret-5520"
	)
	pwHash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	usersFile := filepath.Join(dir, "users.json")
	users := fmt.Sprintf(`{"users": [{"name": "alice", "password": %q, "tokens": [%q]}]}`, pwHash, tokenHash(token))
	if err := os.WriteFile(usersFile, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(dir, "audit.log")
	// PySpark sends a token only over TLS: the Connect port serves it, trusting the test CA.
	certFile, keyFile := writeCert(t, dir)
	clientEnv = []string{"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=" + certFile}
	defer func() { clientEnv = nil }()
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{"alice": "harness"},
		"-auth", "FILE", "-users-file", usersFile, "-catalog", "in-memory", "-audit-log", auditPath,
		"-connect-tls-cert", certFile, "-connect-tls-key", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = b.stop()
		}
	}()
	// The admin port takes the Connect port's certificate when it has none of its own.
	scraper := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, certFile), ServerName: "localhost"}}}
	metricsURL := "https://" + b.adminAddr + "/metrics"
	before := scrapeMetrics(t, scraper, metricsURL)

	// HiveServer2: a wrong password, then beeline with the right one runs a query and a SET
	// of a secret-looking conf.
	if saslLogin(t, "127.0.0.1", b.thriftAddr, "alice", "wrong-password") {
		t.Fatal("a wrong password was accepted")
	}
	out := runClient(t, 5*time.Minute, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+b.thriftAddr+"/default", "-n", "alice", "-p", password,
		"--outputformat=csv2", "--silent=true", "--showHeader=false",
		"-e", "SELECT id FROM range(5); SET spark.myapp.password="+confSecret)
	if !strings.Contains(out, "4") {
		t.Fatalf("beeline printed %q", out)
	}

	// Spark Connect: a wrong token, then PySpark with the right one.
	port := portOf(b.connectAddr)
	url := func(tok string) string { return "sc://localhost:" + port + "/;use_ssl=true;user_id=alice;token=" + tok }
	var res map[string]any
	pyspark(t, &res, "pyspark_security.py", url("wrong-token"), "query")
	if res["ok"] != false {
		t.Fatalf("a wrong token: %v", res)
	}
	pyspark(t, &res, "pyspark_security.py", url(token), "query")
	if res["ok"] != true || res["value"] != 42.0 {
		t.Fatalf("alice with her token: %v", res)
	}

	// Sessions end as their clients leave: wait for the registry to be empty.
	deadline := time.Now().Add(30 * time.Second)
	var after map[string]float64
	for {
		after = scrapeMetrics(t, scraper, metricsURL)
		if after["sparkbridge_sessions_active{protocol=hs2_binary}"] == 0 && after["sparkbridge_sessions_active{protocol=connect}"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions still open: %v", after)
		}
		time.Sleep(200 * time.Millisecond)
	}
	delta := func(k string) float64 { return after[k] - before[k] }
	var moved []string
	for k := range after {
		if d := delta(k); d != 0 {
			moved = append(moved, fmt.Sprintf("%s %+v", k, d))
		}
	}
	sort.Strings(moved)
	t.Logf("metrics that moved:\n%s", strings.Join(moved, "\n"))

	exact := map[string]float64{
		"sparkbridge_auth_failures_total{mechanism=plain,protocol=hs2_binary}":                    1,
		"sparkbridge_connections_failed_total{protocol=hs2_binary,reason=auth}":                   1,
		"sparkbridge_sessions_opened_total{protocol=hs2_binary}":                                  1,
		"sparkbridge_sessions_closed_total{protocol=hs2_binary,reason=closed}":                    1,
		"sparkbridge_operations_started_total{kind=statement,protocol=hs2_binary}":                2,
		"sparkbridge_operations_finished_total{kind=statement,outcome=ok,protocol=hs2_binary}":    2,
		"sparkbridge_rows_sent_total{protocol=hs2_binary}":                                        6, // 5 ids and the SET's row
		"sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=OpenSession,protocol=hs2_binary}":      1,
		"sparkbridge_rpcs_total{code=SUCCESS_STATUS,method=ExecuteStatement,protocol=hs2_binary}": 2,
		"sparkbridge_sessions_opened_total{protocol=connect}":                                     1,
		"sparkbridge_sessions_closed_total{protocol=connect,reason=detached}":                     1,
		"sparkbridge_operations_finished_total{kind=execute,outcome=error,protocol=connect}":      0,
		// PySpark's spark.sql() and collect(): two executions, one row.
		"sparkbridge_operations_started_total{kind=execute,protocol=connect}":             2,
		"sparkbridge_operations_finished_total{kind=execute,outcome=ok,protocol=connect}": 2,
		"sparkbridge_rows_sent_total{protocol=connect}":                                   1,
		"sparkbridge_engine_launches_total{}":                                             1, // alice's static engine, first used
		"sparkbridge_engine_launch_failures_total{}":                                      0,
		"sparkbridge_engine_losses_total{}":                                               0,
		"sparkbridge_engines{state=ready}":                                                1,
	}
	for k, want := range exact {
		if got := delta(k); got != want {
			t.Errorf("%s moved by %v, want %v", k, got, want)
		}
	}
	// PySpark with a wrong token makes several calls before it gives up (Config,
	// ExecutePlan, ReleaseExecute): each is one refused token and one UNAUTHENTICATED call.
	refused := 0.0
	for k := range after {
		if strings.HasPrefix(k, "sparkbridge_rpcs_total{code=Unauthenticated,") {
			refused += delta(k)
		}
	}
	if got := delta("sparkbridge_auth_failures_total{mechanism=bearer,protocol=connect}"); got < 1 || got != refused {
		t.Errorf("%v refused tokens, %v UNAUTHENTICATED calls; want them equal and at least 1", got, refused)
	}
	if delta("sparkbridge_rpcs_total{code=OK,method=/spark.connect.SparkConnectService/ExecutePlan,protocol=connect}") != 2 {
		t.Error("Connect ExecutePlan calls answered OK did not move by 2")
	}

	// The audit log, complete once the bridge has stopped.
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	data, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(auditPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit file mode: %v %v", fi.Mode(), err)
	}
	for _, secret := range []string{password, token, confSecret, harness.token} {
		if bytes.Contains(data, []byte(secret)) {
			t.Fatalf("secret %q reached the audit log:\n%s", secret, data)
		}
	}
	var opens, closes int
	var sawSelect, sawSet, sawConnect bool
	for _, raw := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l auditLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("audit line %q: %v", raw, err)
		}
		if l.User != "alice" || l.ClientAddr == "" || l.EngineID == "" || l.Time.IsZero() {
			t.Errorf("audit line lacks time, user, client or engine: %s", raw)
		}
		switch l.Event {
		case "session_open":
			opens++
		case "session_close":
			closes++
		case "operation":
			switch {
			case l.Statement == "SELECT id FROM range(5)":
				sawSelect = l.Protocol == "thrift" && l.Transport == "binary" && l.Outcome == "ok" && l.Rows != nil && *l.Rows == 5 && l.DurationMS != nil
			case strings.HasPrefix(l.Statement, "SET spark.myapp.password"):
				sawSet = l.Statement == "SET spark.myapp.password=*********(redacted)" && l.Outcome == "ok"
			case l.Protocol == "connect":
				sawConnect = sawConnect || l.Outcome == "ok"
			}
		}
	}
	if opens != 2 || closes != 2 || !sawSelect || !sawSet || !sawConnect {
		t.Fatalf("audit log: %d opens, %d closes (want 2 and 2), SELECT line %v, redacted SET line %v, Connect line %v:\n%s",
			opens, closes, sawSelect, sawSet, sawConnect, data)
	}
}

// caPool trusts the PEM certificate in certFile.
func caPool(t *testing.T, certFile string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", certFile)
	}
	return pool
}
