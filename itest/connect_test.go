package itest

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// pyspark runs a script from testdata with the venv's Python and decodes its JSON output.
func pyspark(t *testing.T, out any, script string, args ...string) {
	t.Helper()
	raw := runClient(t, 5*time.Minute, filepath.Join(bridge.venv, "bin", "python"), append([]string{filepath.Join("testdata", script)}, args...)...)
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("%s printed %q: %v", script, raw, err)
	}
}

func connectURL(user string) string {
	return "sc://" + bridge.connectAddr + "/;user_id=" + user
}

func TestPySparkThroughBridge(t *testing.T) {
	var got struct {
		Count10 int64 `json:"count10"`
		Agg     struct {
			Total, N, Top int64
		} `json:"agg"`
		SQL     [][]any `json:"sql"`
		Version string  `json:"version"`
	}
	pyspark(t, &got, "pyspark_basic.py", connectURL("alice"))

	if got.Count10 != 10 {
		t.Errorf("range(10).count() = %d, want 10", got.Count10)
	}
	// sum of 2*id for id in [0, 100000)
	if want := int64(100000 * 99999); got.Agg.Total != want || got.Agg.N != 100000 || got.Agg.Top != 199998 {
		t.Errorf("agg = %+v, want total %d, n 100000, top 199998", got.Agg, want)
	}
	wantSQL := [][]any{{2.0, "2", true}, {3.0, "3", false}, {4.0, "4", true}}
	if !reflect.DeepEqual(got.SQL, wantSQL) {
		t.Errorf("spark.sql rows = %v, want %v", got.SQL, wantSQL)
	}
	if got.Version == "" {
		t.Errorf("spark.version is empty")
	}
}
