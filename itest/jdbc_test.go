package itest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHiveJDBC compiles a Java program against the Hive JDBC driver that ships with pyspark
// and runs it through the bridge: DatabaseMetaData, getObject for every type, a query
// timeout and a cancel.
func TestHiveJDBC(t *testing.T) {
	classes := t.TempDir()
	cp := filepath.Join(bridge.sparkHome, "jars", "*")
	javac := exec.Command("javac", "-d", classes, "-cp", cp, filepath.Join("testdata", "JdbcCheck.java"))
	if out, err := javac.CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	table := "jdbc_" + randomMarker()
	out := runClient(t, 5*time.Minute, "java", "-cp", classes+string(os.PathListSeparator)+cp, "JdbcCheck",
		"jdbc:hive2://"+bridge.thriftAddr+"/default", table)
	for _, want := range []string{
		"product=Spark SQL 4.3.0",
		"catalog=spark_catalog",
		"schema=default spark_catalog",
		"table=" + table + " TABLE",
		"column=i 4 INT 4 0 1",     // COLUMN_SIZE is Spark's default size in bytes, as on STS
		"column=s 12 STRING 0 0 2", // null size: variable length
		"column=d 3 DECIMAL(10,2) 8 2 3",
		"primarykeys=6 false",
		"object=1 boolean Boolean true",
		"object=2 tinyint Byte 1",
		"object=3 smallint Short 2",
		"object=4 int Integer 3",
		"object=5 bigint Long 4",
		"object=6 float Double 1.5", // Spark Thrift Server also sends FLOAT as a double column
		"object=7 double Double 2.5",
		"object=8 decimal BigDecimal 1.25",
		"object=9 string String x",
		"object=10 date Date 2024-01-31",
		"object=11 timestamp Timestamp 2024-01-31 01:02:03.0",
		"object=12 binary byte[] A",
		"object=13 array String [1,2]",
		"object=14 map String {\"k\":1}",
		"object=15 struct String {\"a\":1}",
		"object=16 void null null",
		"timeout=SQLTimeoutException",
		"after=still",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("JDBC output lacks %q", want)
		}
	}
	if !strings.Contains(out, "cancel=") || strings.Contains(out, "cancel=none") {
		t.Errorf("cancel did not stop the query")
	}
	if t.Failed() {
		t.Logf("JDBC output:\n%s", out)
	}
}
