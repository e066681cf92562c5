package itest

import (
	"context"
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// junitSuite is the part of pytest's JUnit XML report the dbt suite comparison reads.
type junitSuite struct {
	Cases []struct {
		Class   string    `xml:"classname,attr"`
		Name    string    `xml:"name,attr"`
		Time    float64   `xml:"time,attr"`
		Failure *struct{} `xml:"failure"`
		Error   *struct{} `xml:"error"`
		Skipped *struct{} `xml:"skipped"`
	} `xml:"testsuite>testcase"`
}

// dbtAdapterSuite runs testdata/dbt_adapter (dbt-tests-adapter's classes that dbt-spark runs
// for its thrift profile) against the HiveServer2 server at addr, in a directory of its own,
// and returns each test's outcome ("passed", "failed", "error", "skipped") and the wall time.
func dbtAdapterSuite(t *testing.T, addr, user string) (map[string]string, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"conftest.py", "test_adapter.py"} {
		b, err := os.ReadFile(filepath.Join("testdata", "dbt_adapter", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	python, err := filepath.Abs(filepath.Join("..", ".venv-dbt", "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	report := filepath.Join(dir, "report.xml")
	clientMu.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	cmd := exec.CommandContext(ctx, python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml="+report, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DBT_SPARK_HOST="+host, "DBT_SPARK_PORT="+port, "DBT_SPARK_USER="+user,
		"DBT_SEND_ANONYMOUS_USAGE_STATS=false")
	start := time.Now()
	out, runErr := cmd.CombinedOutput()
	took := time.Since(start)
	cancel()
	clientMu.Unlock()
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("pytest wrote no report (%v):\n%s", runErr, tail(string(out), 40))
	}
	var suite junitSuite
	if err := xml.Unmarshal(raw, &suite); err != nil {
		t.Fatalf("pytest report: %v", err)
	}
	outcomes := map[string]string{}
	for _, c := range suite.Cases {
		o := "passed"
		switch {
		case c.Failure != nil:
			o = "failed"
		case c.Error != nil:
			o = "error"
		case c.Skipped != nil:
			o = "skipped"
		}
		outcomes[c.Class+"::"+c.Name] = o
	}
	if runErr != nil {
		t.Logf("pytest against %s: %v\n%s", addr, runErr, tail(string(out), 30))
	}
	return outcomes, took
}

// TestDbtAdapterSuiteMatchesSTS runs dbt's own adapter tests through dbt-spark's thrift
// method (PyHive, SASL PLAIN) against Spark Thrift Server and the bridge: every test that
// passes on Spark Thrift Server must pass on the bridge. The wall times are BENCHMARKS.md's
// G8 (dbt's default poll interval).
func TestDbtAdapterSuiteMatchesSTS(t *testing.T) {
	sts := sharedThriftServer(t)
	want, stsTook := dbtAdapterSuite(t, sts, "dbt")
	got, bridgeTook := dbtAdapterSuite(t, bridge.thriftAddr, "alice")
	names := make([]string, 0, len(want))
	passed := 0
	for n, o := range want {
		names = append(names, n)
		if o == "passed" {
			passed++
		}
	}
	sort.Strings(names)
	if passed < 8 {
		t.Fatalf("only %d of dbt's adapter tests passed on Spark Thrift Server: %v", passed, want)
	}
	same := 0
	for _, n := range names {
		if want[n] == "passed" && got[n] != "passed" {
			t.Errorf("%s: %s through the bridge, passed on Spark Thrift Server", n, got[n])
			continue
		}
		if got[n] == "passed" {
			same++
		}
	}
	t.Logf("dbt adapter suite: %d of %d pass on the bridge, %d on Spark Thrift Server; wall time bridge %s, STS %s (%.2fx)",
		same, len(names), passed, bridgeTook.Round(100*time.Millisecond), stsTook.Round(100*time.Millisecond), bridgeTook.Seconds()/stsTook.Seconds())
}
