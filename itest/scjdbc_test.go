package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	scJdbcOnce sync.Once
	scJdbcErr  error
)

// scJdbc runs testdata/ScJdbc.java (compiled once) with the Spark Connect JDBC driver from the
// pyspark install.
func scJdbc(t *testing.T, url string, args ...string) []string {
	t.Helper()
	classes := filepath.Join(workDir, "scjdbc-classes")
	cp := filepath.Join(bridge.sparkHome, "jars", "connect-repl", "*") + string(os.PathListSeparator) + filepath.Join(bridge.sparkHome, "jars", "*")
	scJdbcOnce.Do(func() {
		out, err := exec.Command("javac", "-d", classes, filepath.Join("testdata", "ScJdbc.java")).CombinedOutput()
		if err != nil {
			scJdbcErr = fmt.Errorf("javac: %v\n%s", err, out)
		}
	})
	if scJdbcErr != nil {
		t.Fatal(scJdbcErr)
	}
	// Arrow needs these on Java 17, as Spark's own launcher passes them.
	jvm := []string{"--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
		"-Dio.netty.tryReflectionSetAccessible=true", "-cp", classes + string(os.PathListSeparator) + cp, "ScJdbc", url}
	out := runClient(t, 5*time.Minute, "java", append(jvm, args...)...)
	return strings.Split(strings.TrimRight(out, "\n"), "\n")
}

// TestSparkConnectJDBCMatchesDirect runs the Spark Connect JDBC driver (jdbc:sc://) through
// the bridge's Connect port and directly against the same engine (the harness server, user
// "static"): DatabaseMetaData, a query's ResultSetMetaData and values, and the session's user
// must be the same line for line. Then beeline in Spark Connect mode runs a query through the
// bridge, on alice's launched engine, where current_user() is alice.
func TestSparkConnectJDBCMatchesDirect(t *testing.T) {
	db := "scj_" + randomMarker()
	through := "jdbc:sc://" + bridge.connectAddr + "/;user_id=static"
	got := scJdbc(t, through, db, "setup")
	want := scJdbc(t, "jdbc:"+harness.url("static"), db)
	if len(want) < 10 || !strings.Contains(strings.Join(want, "\n"), "result row\t1\ta\t1.25") {
		t.Fatalf("directly, the JDBC driver printed too little:\n%s", strings.Join(want, "\n"))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the Spark Connect JDBC driver differs through the bridge.\nbridge:\n%s\ndirect:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	clientMu.Lock()
	cmd := exec.Command(filepath.Join(bridge.sparkHome, "bin", "beeline"), "-u", "jdbc:sc://"+bridge.connectAddr+"/;user_id=alice",
		"--outputformat=csv2", "--silent=true", "-e", "SELECT id * 2 AS v, current_user() AS u FROM range(3) ORDER BY id")
	cmd.Env = append(os.Environ(), "SPARK_CONNECT_BEELINE=1", "SPARK_HOME="+bridge.sparkHome)
	out, err := cmd.CombinedOutput()
	clientMu.Unlock()
	if err != nil {
		t.Fatalf("beeline in Spark Connect mode: %v\n%s", err, tail(string(out), 20))
	}
	if !strings.Contains(string(out), "v,u\n0,alice\n2,alice\n4,alice") {
		t.Errorf("beeline in Spark Connect mode printed:\n%s", tail(string(out), 20))
	}
}
