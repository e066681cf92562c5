package itest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// adminOp is what the test reads of an operation in the admin API.
type adminOp struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Protocol  string    `json:"protocol"`
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	Statement string    `json:"statement"`
	SessionID string    `json:"session_id"`
	EngineID  string    `json:"engine_id"`
	Started   time.Time `json:"started"`
}

type adminEngine struct {
	ID       string `json:"id"`
	User     string `json:"user"`
	State    string `json:"state"`
	PID      int    `json:"pid"`
	Master   string `json:"master"`
	Sessions int    `json:"sessions"`
}

// adminCall calls the bridge's admin API and decodes its JSON answer into out (nil: none).
func adminCall(t *testing.T, b *bridgeProc, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+b.adminAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// runningOps lists the RUNNING operations of user and protocol.
func runningOps(t *testing.T, b *bridgeProc, user, protocol string) []adminOp {
	t.Helper()
	var r struct {
		Operations []adminOp `json:"operations"`
	}
	if code := adminCall(t, b, http.MethodGet, "/api/v1/operations?state=RUNNING&user="+user+"&protocol="+protocol, &r); code != http.StatusOK {
		t.Fatalf("GET operations: %d", code)
	}
	return r.Operations
}

// waitRunning waits until user's protocol operation has been RUNNING for a while (PySpark's
// spark.sql sends a quick command first; the long collect follows) and returns it.
func waitRunning(t *testing.T, b *bridgeProc, c *drainClient, user, protocol string) adminOp {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for _, op := range runningOps(t, b, user, protocol) {
			if time.Since(op.Started) > 3*time.Second {
				return op
			}
		}
		select {
		case err := <-c.done:
			t.Fatalf("%s exited (%v) before its query was seen running:\n%s\n%s", c.name, err, c.stdout.String(), tail(c.stderr.String(), 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s operation of %s running after 3 minutes; bridge log:\n%s", protocol, user, b.logTail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cancelAndTime cancels op through the API and waits for client c to fail: it returns how
// long the client took to see it, and what it printed.
func cancelAndTime(t *testing.T, b *bridgeProc, c *drainClient, op adminOp) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	var r struct {
		Operation adminOp `json:"operation"`
	}
	if code := adminCall(t, b, http.MethodDelete, "/api/v1/operations/"+op.ID, &r); code != http.StatusOK || r.Operation.State != "CANCELED" {
		t.Fatalf("DELETE operation %s: %d %+v", op.ID, code, r)
	}
	select {
	case err := <-c.done:
		took := time.Since(start)
		out := c.stdout.String() + c.stderr.String()
		if err == nil {
			t.Errorf("%s succeeded after its query was cancelled:\n%s", c.name, tail(out, 20))
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(strings.ToLower(l), "cancel") {
				t.Logf("%s: %s", c.name, strings.TrimSpace(l))
			}
		}
		return took, out
	case <-time.After(60 * time.Second):
		t.Fatalf("%s still running 60 s after its operation was cancelled:\n%s", c.name, tail(c.stderr.String(), 20))
	}
	return 0, ""
}

// TestAdminAPI runs the admin API against a bridge of its own with real clients: a long
// beeline query and a long PySpark query are listed with their user and protocol, and a
// DELETE of each makes its client fail with a cancellation within 5 s; POST /api/v1/drain
// makes /readyz answer 503 while a query in flight completes; a DELETE of the engine stops
// its JVM.
func TestAdminAPI(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "admin-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{}, "-catalog", "in-memory", "-shutdown-grace", "60s")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.cmd.Process.Kill() }()
	var st struct {
		Status string `json:"status"`
	}
	if code := adminCall(t, b, http.MethodGet, "/readyz", &st); code != http.StatusOK || st.Status != "ready" {
		t.Fatalf("/readyz of a serving bridge: %d %+v", code, st)
	}
	const user = "operator"
	beelineAt(t, b.thriftAddr, user, "", "SELECT 1") // warms the user's engine

	// A query that runs a minute: one task sleeping in the engine.
	long := "SELECT reflect('java.lang.Thread', 'sleep', CAST(60000 AS BIGINT)) IS NULL AS slept, 42 AS answer"
	bl := startDrainClient(t, "beeline", "", filepath.Join(b.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+b.thriftAddr+"/default", "-n", user, "-p", "x", "--outputformat=csv2", "-e", long)
	py := startDrainClient(t, "pyspark", "", filepath.Join(b.venv, "bin", "python"),
		filepath.Join("testdata", "drain_client.py"), "pyspark", "sc://"+b.connectAddr+"/;user_id="+user, "60000")
	hop := waitRunning(t, b, bl, user, "thrift")
	cop := waitRunning(t, b, py, user, "connect")
	if hop.Kind != "statement" || !strings.Contains(hop.Statement, "java.lang.Thread") || hop.SessionID == "" || hop.EngineID == "" {
		t.Errorf("beeline's operation as listed: %+v", hop)
	}
	if cop.Kind != "execute" || cop.SessionID == "" || cop.EngineID != hop.EngineID {
		t.Errorf("PySpark's operation as listed: %+v (beeline's engine %s)", cop, hop.EngineID)
	}
	// The CLI reads the same registry.
	cli, err := exec.Command(bridgeBin, "admin", "queries", "-admin-addr", b.adminAddr, "-state", "RUNNING").CombinedOutput()
	if err != nil || !strings.Contains(string(cli), hop.ID) || !strings.Contains(string(cli), cop.ID) || !strings.Contains(string(cli), "connect") {
		t.Errorf("sparkbridge admin queries: %v\n%s", err, cli)
	}

	took, out := cancelAndTime(t, b, bl, hop)
	t.Logf("beeline saw its query cancelled %s after the DELETE", took.Round(time.Millisecond))
	if !strings.Contains(out, "Error: Query was cancelled") { // Hive JDBC's answer to CANCELED_STATE
		t.Errorf("beeline did not fail with a cancellation:\n%s", tail(out, 20))
	}
	if took > 5*time.Second {
		t.Errorf("beeline saw the cancellation after %s, more than 5 s", took)
	}
	took, out = cancelAndTime(t, b, py, cop)
	t.Logf("PySpark saw its query cancelled %s after the DELETE", took.Round(time.Millisecond))
	if !strings.Contains(out, "OPERATION_CANCELED") { // Spark's answer to the interrupt, relayed
		t.Errorf("PySpark did not fail with a cancellation:\n%s", tail(out, 20))
	}
	if took > 5*time.Second {
		t.Errorf("PySpark saw the cancellation after %s, more than 5 s", took)
	}

	// Drain: /readyz says 503 while a query already running completes.
	short := "SELECT reflect('java.lang.Thread', 'sleep', CAST(8000 AS BIGINT)) IS NULL AS slept, 42 AS answer"
	inflight := startDrainClient(t, "beeline", "", filepath.Join(b.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+b.thriftAddr+"/default", "-n", user, "-p", "x", "--outputformat=csv2", "-e", short)
	deadline := time.Now().Add(2 * time.Minute)
	for len(runningOps(t, b, user, "thrift")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the in-flight query never ran")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := adminCall(t, b, http.MethodPost, "/api/v1/drain", nil); code != http.StatusAccepted {
		t.Fatalf("POST drain: %d", code)
	}
	if code := adminCall(t, b, http.MethodGet, "/readyz", &st); code != http.StatusServiceUnavailable || st.Status != "draining" {
		t.Errorf("/readyz while draining: %d %+v", code, st)
	}
	if code := adminCall(t, b, http.MethodGet, "/healthz", nil); code != http.StatusOK {
		t.Errorf("/healthz while draining: %d", code)
	}
	if out := inflight.wait(t); !strings.Contains(out, "false,42") {
		t.Errorf("the in-flight query did not complete during the drain:\n%s\n%s", out, tail(inflight.stderr.String(), 20))
	}
	if _, stderr, err := beelineTry(b.thriftAddr, "late", "SELECT 1"); err == nil || !strings.Contains(stderr, "shutting down") {
		t.Errorf("a new session during the drain: %v\n%s", err, tail(stderr, 10))
	}

	// DELETE of the engine stops its JVM.
	var engines struct {
		Engines []adminEngine `json:"engines"`
	}
	adminCall(t, b, http.MethodGet, "/api/v1/engines?user="+user, &engines)
	if len(engines.Engines) != 1 || engines.Engines[0].PID == 0 || engines.Engines[0].State != "ready" || engines.Engines[0].ID != hop.EngineID {
		t.Fatalf("the user's engine as listed: %+v", engines)
	}
	eng := engines.Engines[0]
	if !alive(eng.PID) {
		t.Fatalf("engine JVM %d is not running before its DELETE", eng.PID)
	}
	if code := adminCall(t, b, http.MethodDelete, fmt.Sprintf("/api/v1/engines/%s?grace=0s", eng.ID), nil); code != http.StatusAccepted {
		t.Fatalf("DELETE engine: %d", code)
	}
	deadline = time.Now().Add(90 * time.Second)
	for alive(eng.PID) {
		if time.Now().After(deadline) {
			t.Fatalf("engine JVM %d still running 90 s after its DELETE; bridge log:\n%s", eng.PID, b.logTail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	adminCall(t, b, http.MethodGet, "/api/v1/engines", &engines)
	for _, e := range engines.Engines {
		if e.ID == eng.ID {
			t.Errorf("the stopped engine is still listed: %+v", e)
		}
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
}
