package itest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// TestSameEngineForBothProtocols checks that one user's beeline session and PySpark session
// are served by one engine: a global temp view (visible only inside one Spark application)
// made through beeline is read through PySpark, and the bridge has exactly one engine JVM.
func TestSameEngineForBothProtocols(t *testing.T) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	marker := hex.EncodeToString(b)
	view := "marker_" + marker

	beeline(t, "alice", "CREATE OR REPLACE GLOBAL TEMP VIEW "+view+" AS SELECT '"+marker+"' AS v")
	var rows [][]string
	pyspark(t, &rows, "pyspark_query.py", connectURL("alice"), "SELECT v FROM global_temp."+view)
	if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != marker {
		t.Fatalf("PySpark read %v from global_temp.%s, want [[%s]]", rows, view, marker)
	}
	if pids := bridge.enginePIDs(); len(pids) != 1 {
		t.Fatalf("bridge runs %d engine JVMs (%v), want 1", len(pids), pids)
	}
}
