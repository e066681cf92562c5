package itest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// TestSameEngineForBothProtocols checks that one user's beeline session and PySpark session
// are served by one engine: a global temp view (visible only inside one Spark application)
// made through beeline is read through PySpark, and the bridge launched exactly one engine
// for the user's key over the whole run.
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
	if n := strings.Count(bridge.log(), "key=user/alice pid="); n != 1 {
		t.Fatalf("the bridge launched %d engines for user/alice, want 1", n)
	}
}
