package itest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func randomMarker() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// waitForPIDs waits until the bridge's engine JVMs are exactly want (in any order).
func waitForPIDs(t *testing.T, what string, want []int) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := bridge.enginePIDs()
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: engine JVMs %v, want %v; log tail:\n%s", what, got, want, bridge.logTail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// engineReady returns the pid the bridge logged, after log offset after, for the engine
// whose key matches the regular expression keyRE, waiting for it.
func engineReady(t *testing.T, keyRE string, after int) int {
	t.Helper()
	re := regexp.MustCompile(`msg="engine ready".* key=` + keyRE + ` pid=(\d+)`)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		log := bridge.log()
		if len(log) > after {
			if m := re.FindStringSubmatch(log[after:]); m != nil {
				pid, _ := strconv.Atoi(m[1])
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no engine became ready for key %s; log tail:\n%s", keyRE, bridge.logTail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTwoUsersTwoEngines checks that bob does not share alice's engine: his session gets a
// JVM of its own, and alice's global temp views are not visible to him.
func TestTwoUsersTwoEngines(t *testing.T) {
	view := "iso_" + randomMarker()
	beeline(t, "alice", "CREATE OR REPLACE GLOBAL TEMP VIEW "+view+" AS SELECT 1 AS x")
	before := bridge.enginePIDs()
	show := "SHOW VIEWS IN global_temp LIKE '" + view + "'"
	if got := beeline(t, "alice", show); len(got) != 2 || !strings.Contains(got[1], view) {
		t.Fatalf("alice does not see her own view: %q", got)
	}
	if got := beeline(t, "bob", show); len(got) != 1 {
		t.Fatalf("bob's engine lists alice's global temp view: %q", got)
	}
	after := bridge.enginePIDs()
	if len(after) != len(before)+1 {
		t.Fatalf("engine JVMs went from %v to %v for a second user; want one more", before, after)
	}
}

// TestTableVisibleAcrossProtocols creates a table through beeline and reads it through PySpark
// as the same user.
func TestTableVisibleAcrossProtocols(t *testing.T) {
	table := "t_" + randomMarker()
	beeline(t, "alice", "CREATE TABLE "+table+" USING parquet AS SELECT id, CAST(id * 10 AS STRING) AS s FROM range(5)")
	var rows [][]any
	pyspark(t, &rows, "pyspark_query.py", connectURL("alice"), "SELECT id, s FROM "+table+" ORDER BY id")
	want := "[[0 0] [1 10] [2 20] [3 30] [4 40]]"
	if got := strings.ReplaceAll(strings.ReplaceAll(jsonString(rows), ",", " "), "\"", ""); got != want {
		t.Fatalf("PySpark read %v from %s, want %s", rows, table, want)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestThriftJoinsConnectSession opens a PySpark session with a temp view and a session conf,
// then joins it from beeline by session id: the temp view and the conf are visible there.
func TestThriftJoinsConnectSession(t *testing.T) {
	marker := randomMarker()
	view := "tv_" + marker
	var out struct {
		SessionID string `json:"session_id"`
	}
	pyspark(t, &out, "pyspark_temp_view.py", connectURL("alice"), view, marker)
	if out.SessionID == "" {
		t.Fatal("no session id")
	}
	got := beelineConf(t, "alice", "sparkbridge.session.id="+out.SessionID, "SELECT v FROM "+view+"; SET spark.sql.shuffle.partitions")
	if len(got) < 4 || got[1] != marker || got[3] != "spark.sql.shuffle.partitions,7" {
		t.Fatalf("joined beeline session printed %q; want the view's %s and the conf set through PySpark", got, marker)
	}
	// Another user cannot join alice's session.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+bridge.thriftAddr+"/default?sparkbridge.session.id="+out.SessionID, "-n", "mallory", "-p", "x", "-e", "SELECT 1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	clientMu.Lock()
	_ = cmd.Run()
	clientMu.Unlock()
	if !strings.Contains(stderr.String(), "belongs to another user") {
		t.Fatalf("mallory joining alice's session: %s", tail(stderr.String(), 10))
	}
}

// TestConnectionShareLevel runs a session at the CONNECTION share level: it gets an engine
// of its own, which stops when the session closes.
func TestConnectionShareLevel(t *testing.T) {
	before := bridge.enginePIDs()
	mark := len(bridge.log())
	got := beelineConf(t, "alice", "sparkbridge.engine.share.level=CONNECTION", "SELECT 7 * 6 AS x")
	if len(got) != 2 || got[1] != "42" {
		t.Fatalf("beeline printed %q", got)
	}
	pid := engineReady(t, `connection/\S+`, mark)
	if slices.Contains(before, pid) {
		t.Fatalf("CONNECTION session ran on an existing engine %d", pid)
	}
	waitForPIDs(t, "after the CONNECTION session closed", before)
	if !strings.Contains(bridge.log()[mark:], `reason="its CONNECTION session closed"`) {
		t.Fatal("no log line for stopping the CONNECTION engine")
	}
}

// TestIdleEngineStops gives an engine a short idle timeout and waits for it to stop.
func TestIdleEngineStops(t *testing.T) {
	before := bridge.enginePIDs()
	mark := len(bridge.log())
	got := beelineConf(t, "alice", "sparkbridge.engine.subdomain=idle;sparkbridge.engine.idle.timeout=3s", "SELECT 1 AS one")
	if len(got) != 2 || got[1] != "1" {
		t.Fatalf("beeline printed %q", got)
	}
	engineReady(t, "user/alice/idle", mark)
	waitForPIDs(t, "after the idle timeout", before)
	if !strings.Contains(bridge.log()[mark:], `reason="idle timeout"`) {
		t.Fatal("no log line for the idle stop")
	}
}

// TestEngineKilledMidQuery kills an engine JVM while a beeline query and a PySpark query run
// on it: both clients get a clear error, the bridge keeps serving, and the next query
// relaunches the engine.
func TestEngineKilledMidQuery(t *testing.T) {
	clientMu.Lock() // this test runs two clients at once on purpose
	defer clientMu.Unlock()
	mark := len(bridge.log())
	const conf = "sparkbridge.engine.subdomain=crash"
	type result struct {
		out string
		err error
	}
	beelineDone := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"),
			"-u", "jdbc:hive2://"+bridge.thriftAddr+"/default?"+conf, "-n", "alice", "-p", "x",
			"-e", "SELECT sum(id % 7) FROM range(0, 1000000000000)")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		beelineDone <- result{out.String(), err}
	}()
	pid := engineReady(t, "user/alice/crash", mark)

	pyDone := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bridge.venv, "bin", "python"), filepath.Join("testdata", "pyspark_long_query.py"),
			"sc://"+bridge.connectAddr+"/;user_id=alice;sparkbridge.engine.subdomain=crash")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		pyDone <- result{stdout.String() + stderr.String(), err}
	}()
	// Both queries are running once the engine has two live operations' sessions.
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(bridge.log()[mark:], "key=user/alice/crash protocol=") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the two clients did not reach the engine; log tail:\n%s", bridge.logTail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // let both queries start running on the engine
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	b := <-beelineDone
	if b.err == nil || !strings.Contains(b.out, "stopped; the next statement runs on a new engine") {
		t.Fatalf("beeline after the engine was killed (err %v):\n%s", b.err, tail(b.out, 15))
	}
	p := <-pyDone
	if !strings.Contains(p.out, "stopped; the next statement runs on a new engine") {
		t.Fatalf("PySpark after the engine was killed:\n%s", tail(p.out, 15))
	}
	// The next call in the same PySpark session fails at once: the session's state died
	// with its engine, and the error says to create a new SparkSession.
	var next struct {
		NextError   string  `json:"next_error"`
		NextSeconds float64 `json:"next_seconds"`
	}
	if i := strings.LastIndex(p.out, "{\"error\""); i < 0 || json.Unmarshal([]byte(strings.SplitN(p.out[i:], "\n", 2)[0]), &next) != nil {
		t.Fatalf("PySpark printed no result:\n%s", tail(p.out, 15))
	}
	if !strings.Contains(next.NextError, "create a new SparkSession") {
		t.Fatalf("the next call in the lost session: %q, want a clear session-lost error", next.NextError)
	}
	t.Logf("the next call in the lost session failed after %.2f s: %s", next.NextSeconds, next.NextError)

	// The next query relaunches the engine.
	clientMu.Unlock()
	got := beelineConf(t, "alice", conf, "SELECT 'again' AS s")
	clientMu.Lock()
	if len(got) != 2 || got[1] != "again" {
		t.Fatalf("after the crash, beeline printed %q", got)
	}
	if n := strings.Count(bridge.log()[mark:], `msg="engine ready"`); n < 2 {
		t.Fatalf("%d engine launches since the test began, want the first and a relaunch", n)
	}
	launches := regexp.MustCompile(`msg="engine ready".* key=user/alice/crash .*took=(\S+)`).FindAllStringSubmatch(bridge.log()[mark:], -1)
	if len(launches) >= 2 {
		t.Logf("first launch took %s, the relaunch after the kill %s", launches[0][1], launches[len(launches)-1][1])
	}
	if slices.Contains(bridge.enginePIDs(), pid) {
		t.Fatalf("killed engine %d still listed", pid)
	}
}
