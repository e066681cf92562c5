package itest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// matrixClients are the PySpark versions of the client matrix and the venv of each: 3.5 is the
// full pyspark 3.5 install, 4.0 to 4.2 the thin pyspark-client packages, 4.3 the project's.
func matrixClients(t *testing.T) [][2]string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	clients := [][2]string{{"3.5", filepath.Join(root, ".venv-spark35")}}
	for _, v := range []string{"4.0", "4.1", "4.2"} {
		clients = append(clients, [2]string{v, filepath.Join(root, ".venv-pyspark-"+v)})
	}
	clients = append(clients, [2]string{"4.3", bridge.venv})
	for _, c := range clients {
		if _, err := os.Stat(filepath.Join(c[1], "bin", "python")); err != nil {
			t.Fatalf("PySpark %s client venv %s is missing (run 'make clients'): %v", c[0], c[1], err)
		}
	}
	return clients
}

// commonSurface runs testdata/pyspark_common.py with the venv's PySpark against url.
func commonSurface(t *testing.T, venv, url string) map[string]any {
	t.Helper()
	raw := runClient(t, 5*time.Minute, filepath.Join(venv, "bin", "python"), filepath.Join("testdata", "pyspark_common.py"), url)
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("pyspark_common.py printed %q: %v", tail(raw, 10), err)
	}
	return out
}

// errorsIn lists the answers of a common surface run that are errors, except the one that must
// be an error.
func errorsIn(out map[string]any) []string {
	var errs []string
	for k, v := range out {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "error: ") && k != "error" {
			errs = append(errs, k)
		}
	}
	sort.Strings(errs)
	return errs
}

// wantCommon are answers of testdata/pyspark_common.py that every supported client and
// engine pair gives, printed with fmt.Sprint.
var wantCommon = map[string]string{"range_count": "1000", "group_agg": "[[eng 2 180] [ops 2 90]]", "udf": "[3 2 2 2]",
	"temp_view": "4", "sql_args": "[[8] [9]]", "window": "[[ann 2] [bo 1] [cy 2] [di 1]]", "topandas": "[100000 4.99995e+09]"}

// TestClientVersionMatrix runs the surface PySpark 3.5 to 4.3 share against a Spark 4.3 engine,
// with each client version, straight to the engine and through the bridge (user "static" is
// routed to the same engine): every answer, errors included, must be the same both ways.
// What fails directly is what Spark itself does not support for that pair; it is logged.
// PySpark 3.5 cannot reach the engine directly (it sends a token only over TLS, and engines
// speak plaintext on loopback), so its answers through the bridge are checked against the
// values every client gets.
func TestClientVersionMatrix(t *testing.T) {
	for _, c := range matrixClients(t) {
		t.Run("pyspark-"+c[0], func(t *testing.T) {
			through := commonSurface(t, c[1], "sc://"+bridge.connectAddr+"/;user_id=static")
			if !strings.HasPrefix(fmt.Sprint(through["client"]), c[0]) {
				t.Fatalf("the %s venv runs PySpark %v", c[0], through["client"])
			}
			for k, want := range wantCommon {
				if got := fmt.Sprint(through[k]); got != want {
					t.Errorf("PySpark %s through the bridge: %s = %s, want %s", c[0], k, got, want)
				}
			}
			if c[0] == "3.5" {
				t.Logf("PySpark 3.5 client, Spark 4.3 engine, through the bridge: %d answers; failing: %v", len(through), errorsIn(through))
				return
			}
			direct := commonSurface(t, c[1], harness.url("static"))
			keys := make([]string, 0, len(direct))
			for k := range direct {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !reflect.DeepEqual(direct[k], through[k]) {
					t.Errorf("PySpark %s, %s: %v through the bridge, %v directly", c[0], k, through[k], direct[k])
				}
			}
			t.Logf("PySpark %s client, Spark 4.3 engine: %d answers, the same both ways; unsupported by Spark itself: %v",
				c[0], len(keys), errorsIn(direct))
		})
	}
}

// TestSpark35Engine serves user "old" from a Spark 3.5 engine (the spark35 profile: pyspark
// 3.5's install plus its Connect server jar) through both protocols: PySpark 3.5 runs the
// common surface, beeline runs SQL on the same engine, and the engine, which listens on every
// interface because Spark 3.5 cannot bind its Connect port to one, refuses calls without the
// bridge's secret.
func TestSpark35Engine(t *testing.T) {
	venv := matrixClients(t)[0][1]
	out := commonSurface(t, venv, "sc://"+bridge.connectAddr+"/;user_id=old")
	if out["engine_version"] != "3" {
		var lines []string
		for _, l := range strings.Split(bridge.log(), "\n") {
			if strings.Contains(l, "old") {
				lines = append(lines, l)
			}
		}
		t.Fatalf("user old was not served by a Spark 3.5 engine: %v\n%s", out["engine_version"], strings.Join(lines, "\n"))
	}
	if errs := errorsIn(out); len(errs) > 0 {
		t.Errorf("PySpark 3.5 through the bridge to a Spark 3.5 engine failed at %v: %v", errs, out)
	}
	for k, want := range wantCommon {
		if got := fmt.Sprint(out[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	rows := beeline(t, "old", "SELECT split(version(), ' ')[0] AS v, current_user() AS u, count(*) AS n FROM range(7)")
	if got := strings.Join(rows, "\n"); !strings.Contains(got, "3.5.7,old,7") {
		t.Errorf("beeline on the Spark 3.5 engine printed %q, want 3.5.7,old,7", got)
	}

	m := regexp.MustCompile(`msg="engine ready" addr="([^"]+)".*key=user/old/profile/spark35`).FindStringSubmatch(bridge.log())
	if m == nil {
		t.Fatal("the bridge logged no Spark 3.5 engine for old")
	}
	// PySpark 3.5 without a token, and PySpark 4.3 (which sends a token without TLS to
	// localhost, where 3.5 would insist on TLS) with a wrong one.
	for _, probe := range [][2]string{{venv, ""}, {bridge.venv, ";token=not-the-secret"}} {
		url := "sc://localhost:" + strings.Split(m[1], ":")[1] + "/;user_id=old" + probe[1]
		clientMu.Lock()
		cmd := exec.Command(filepath.Join(probe[0], "bin", "python"), "-c",
			"import sys\nfrom pyspark.sql import SparkSession\nprint(SparkSession.builder.remote(sys.argv[1]).getOrCreate().range(3).count())", url)
		b, err := cmd.CombinedOutput()
		clientMu.Unlock()
		if err == nil || !strings.Contains(string(b), "UNAUTHENTICATED") {
			t.Errorf("a call straight to the Spark 3.5 engine with %q was not refused: %v\n%s", probe[1], err, tail(string(b), 5))
		}
	}
}
