package itest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// beeline runs statements through the bridge as user and returns the csv2 output lines
// (header first), with beeline's own chatter removed.
func beeline(t *testing.T, user string, sql string) []string {
	t.Helper()
	return beelineConf(t, user, "", sql)
}

// beelineConf is beeline with session configuration: conf is the JDBC URL's ?key=value;...
// part, which Hive JDBC sends as set:hiveconf: entries of OpenSession.
func beelineConf(t *testing.T, user, conf, sql string) []string {
	t.Helper()
	return beelineAt(t, bridge.thriftAddr, user, conf, sql)
}

// beelineAt is beelineConf against the bridge listening at addr.
func beelineAt(t *testing.T, addr, user, conf, sql string) []string {
	t.Helper()
	url := "jdbc:hive2://" + addr + "/default"
	if conf != "" {
		url += "?" + conf
	}
	out := runClient(t, 5*time.Minute, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", url,
		"-n", user, "-p", "any-password",
		"--outputformat=csv2", "--silent=true", "--showHeader=true", "--incremental=true",
		"-e", sql)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		// Even with --silent, beeline prefixes the first line of a result with its prompt.
		l = beelinePrompt.ReplaceAllString(l, "")
		if l == "" {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

var beelinePrompt = regexp.MustCompile(`^\d+: jdbc:hive2://\S*> `)

func TestBeelineSelectOne(t *testing.T) {
	got := beeline(t, "alice", "SELECT 1 AS one, 'a' AS s")
	want := []string{"one,s", "1,a"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("beeline printed %q, want %q", got, want)
	}
}

// TestBeelineRange fetches 100,000 rows of booleans, ints, bigints, doubles, strings and
// nulls, and checks every value.
func TestBeelineRange(t *testing.T) {
	const n = 100000
	got := beeline(t, "alice", fmt.Sprintf(`SELECT id, CAST(id %% 1000 AS INT) AS i, id * 2 AS twice, CAST(id AS STRING) AS s,
		id %% 2 = 0 AS even, IF(id %% 3 = 0, NULL, id) AS maybe, id / 4 AS q FROM range(%d)`, n))
	if len(got) != n+1 {
		t.Fatalf("beeline printed %d lines, want a header and %d rows; first lines %q", len(got), n, got[:min(len(got), 5)])
	}
	if got[0] != "id,i,twice,s,even,maybe,q" {
		t.Fatalf("header %q", got[0])
	}
	for id := 0; id < n; id++ {
		maybe := strconv.Itoa(id)
		if id%3 == 0 {
			maybe = "NULL"
		}
		want := fmt.Sprintf("%d,%d,%d,%d,%t,%s,%s", id, id%1000, id*2, id, id%2 == 0, maybe, javaDouble(float64(id)/4))
		if got[id+1] != want {
			t.Fatalf("row %d is %q, want %q", id, got[id+1], want)
		}
	}
}

// javaDouble formats a double as Java's Double.toString does for the values used here.
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// TestBeelineMetadata lists tables and columns with beeline's !tables and !columns, which
// call GetTables and GetColumns.
func TestBeelineMetadata(t *testing.T) {
	table := "meta_" + randomMarker()
	beeline(t, "alice", "CREATE TABLE "+table+" (a INT, b STRING, c DECIMAL(10,2)) USING parquet")
	out := runClient(t, 5*time.Minute, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+bridge.thriftAddr+"/default", "-n", "alice", "-p", "x",
		"--outputformat=csv2", "--silent=true", "-e", "CREATE OR REPLACE TEMP VIEW tv_meta AS SELECT 1 AS x", "-e", "!tables", "-e", "!columns "+table)
	// beeline's csv2 wraps values that hold a comma in NUL characters.
	out = strings.ReplaceAll(out, "\x00", "")
	for _, want := range []string{
		"spark_catalog,default," + table + ",TABLE,",
		// A local temporary view has no schema: NULL, as on Spark Thrift Server.
		",NULL,tv_meta,VIEW,",
		"spark_catalog,default," + table + ",a,4,INT,4,NULL,0,10,1,,NULL,NULL,NULL,NULL,1,YES,",
		"spark_catalog,default," + table + ",b,12,STRING,NULL,NULL,NULL,NULL,1,,",
		"spark_catalog,default," + table + ",c,3,DECIMAL(10,2),8,NULL,2,10,1,,NULL,NULL,NULL,NULL,3,YES,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("beeline metadata output lacks %q:\n%s", want, tail(out, 20))
		}
	}
}

// TestBeelineHTTPTransport runs beeline over HiveServer2's HTTP transport.
func TestBeelineHTTPTransport(t *testing.T) {
	out := runClient(t, 5*time.Minute, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+bridge.httpAddr+"/default;transportMode=http;httpPath=cliservice", "-n", "alice", "-p", "x",
		"--outputformat=csv2", "--silent=true", "-e", "SELECT id, id * id AS sq FROM range(2000) WHERE id % 500 = 0")
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = beelinePrompt.ReplaceAllString(l, ""); l != "" {
			lines = append(lines, l)
		}
	}
	want := "id,sq\n0,0\n500,250000\n1000,1000000\n1500,2250000"
	if got := strings.Join(lines, "\n"); got != want {
		t.Fatalf("beeline over HTTP printed:\n%s\nwant:\n%s", got, want)
	}
}

// TestBeelineSessionConfAndVariables passes a Spark conf and a Hive variable in the JDBC URL:
// the conf is set on the engine session and Spark substitutes the variable.
func TestBeelineSessionConfAndVariables(t *testing.T) {
	got := beelineConf(t, "alice", "spark.sql.shuffle.partitions=3#answer=41", "SELECT ${answer} + 1 AS v, ${hivevar:answer} AS w; SET spark.sql.shuffle.partitions")
	want := "v,w\n42,41\nkey,value\nspark.sql.shuffle.partitions,3"
	if strings.Join(got, "\n") != want {
		t.Fatalf("beeline printed %q, want %q", strings.Join(got, "\n"), want)
	}
}

// TestBeelineProgressBar runs a multi-stage query of several seconds (Spark reports progress
// every two) with beeline's progress bar on: beeline draws it from the bridge's reports.
func TestBeelineProgressBar(t *testing.T) {
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+bridge.thriftAddr+"/default", "-n", "alice", "-p", "x", "--showProgress=true",
		// Long enough (seconds, on a warm engine) for Spark's periodic progress reports: a
		// query done within the first report interval has no stages to draw.
		"-e", "SELECT k, count(*) AS n FROM (SELECT id % 10 AS k FROM range(0, 1000000000, 1, 4)) GROUP BY k ORDER BY k LIMIT 2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("beeline: %v\n%s", err, tail(string(out), 20))
	}
	for _, want := range []string{"STAGES", "FINISHED", "| 0  | 100000000  |"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("beeline output lacks %q:\n%s", want, tail(string(out), 30))
		}
	}
	// Stage ids count up over the engine's life, so any id will do.
	if !regexp.MustCompile(`Stage-\d+ +0 +FINISHED +\d+ +\d+`).Match(out) {
		t.Errorf("beeline drew no finished stage row:\n%s", tail(string(out), 30))
	}
}
