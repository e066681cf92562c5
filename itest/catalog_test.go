package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The catalog tests: tables live in one persistent metastore that every engine shares,
// whichever user, protocol or engine created them, and outlive engines and bridges.

// TestCatalogSharedAcrossUsers: etl creates a database, a table and a view through beeline;
// bi, on an engine of his own, reads them through the HS2 port and writes one with PySpark.
// current_user() and the recorded owners are the connecting users.
func TestCatalogSharedAcrossUsers(t *testing.T) {
	db := "shared_" + randomMarker()
	mark := len(bridge.log())
	got := beeline(t, "etl", "CREATE DATABASE "+db+" COMMENT 'shared by etl'; "+
		"CREATE TABLE "+db+".sales (region STRING, amount BIGINT) USING parquet COMMENT 'sales by region'; "+
		"INSERT INTO "+db+".sales VALUES ('north', 10), ('south', 32), ('north', 5); "+
		"CREATE VIEW "+db+".north AS SELECT * FROM "+db+".sales WHERE region = 'north'; "+
		"CREATE TABLE "+db+".items (id INT, name STRING) USING parquet; INSERT INTO "+db+".items VALUES (1, 'one'); "+
		"SELECT current_user() AS u")
	if got[len(got)-1] != "etl" {
		t.Fatalf("current_user() for etl printed %q", got)
	}
	etlEngine := engineReady(t, "user/etl", mark)

	got = beeline(t, "bi", "SELECT region, sum(amount) AS total FROM "+db+".sales GROUP BY region ORDER BY region; "+
		"SELECT count(*) AS n FROM "+db+".north; SELECT current_user() AS u")
	want := []string{"region,total", "north,15", "south,32", "n", "2", "u", "bi"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("bi read %q, want %q", got, want)
	}
	biEngine := engineReady(t, "user/bi", mark)
	if biEngine == etlEngine {
		t.Fatalf("etl and bi ran on one engine (pid %d); the test needs two", biEngine)
	}
	if owner := describeField(t, bridge.thriftAddr, "bi", db+".sales", "Owner"); owner != "etl" {
		t.Errorf("owner of a table etl created: %q, want etl", owner)
	}

	var out struct {
		User  string `json:"user"`
		Count int    `json:"count"`
		Owner string `json:"owner"`
	}
	pyspark(t, &out, "pyspark_append.py", connectURL("bi"), db+".items", "7,8")
	if out.User != "bi" || out.Count != 3 || out.Owner != "bi" {
		t.Errorf("PySpark as bi: %+v, want user bi, 3 rows, owner bi", out)
	}
	// etl's engine sees bi's writes: one catalog, one warehouse.
	if got := beeline(t, "etl", "SELECT count(*) AS n FROM "+db+".items_py"); strings.Join(got, "|") != "n|2" {
		t.Errorf("etl reads bi's table: %q", got)
	}
}

// describeField returns a field of DESCRIBE TABLE EXTENDED, read through beeline.
func describeField(t *testing.T, addr, user, table, field string) string {
	t.Helper()
	for _, l := range beelineAt(t, addr, user, "", "DESCRIBE TABLE EXTENDED "+table) {
		if name, rest, ok := strings.Cut(l, ","); ok && name == field {
			v, _, _ := strings.Cut(rest, ",")
			return v
		}
	}
	t.Fatalf("DESCRIBE TABLE EXTENDED %s has no %s", table, field)
	return ""
}

// TestCatalogPersistence runs the same story on both metastore backends: the embedded
// Derby default and PostgreSQL. Tables, a view and rows written through beeline, PySpark
// and dbt survive an engine's idle stop and a bridge restart; dbt re-runs its table model
// over the existing one; a killed metastore fails queries with a clear error, is restarted
// by the bridge, and the next query works.
func TestCatalogPersistence(t *testing.T) {
	for _, backend := range []string{"derby", "postgresql"} {
		t.Run(backend, func(t *testing.T) { catalogPersistence(t, backend) })
	}
}

func catalogPersistence(t *testing.T, backend string) {
	dir, err := os.MkdirTemp(workDir, "catalog-"+backend+"-")
	if err != nil {
		t.Fatal(err)
	}
	flags := []string{"-engine-idle-timeout", "15s"}
	dsv2 := backend == "postgresql"
	if dsv2 {
		url, user, pwFile := postgres(t).createDatabase(t, "hms_"+randomMarker())
		flags = append(flags, "-metastore-db-url", url, "-metastore-db-user", user,
			"-metastore-db-password-file", pwFile, "-metastore-driver-jar", postgresJar(t))
		// A DSv2 catalog beside spark_catalog: Spark's JDBC catalog over another database.
		url, user, pwFile = postgres(t).createDatabase(t, "dsv2_"+randomMarker())
		pw, _ := os.ReadFile(pwFile)
		flags = append(flags, "-conf", "spark.sql.catalog.pg=org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog",
			"-conf", "spark.sql.catalog.pg.url="+url, "-conf", "spark.sql.catalog.pg.driver=org.postgresql.Driver",
			"-conf", "spark.sql.catalog.pg.user="+user, "-conf", "spark.sql.catalog.pg.password="+strings.TrimSpace(string(pw)),
			"-conf", "spark.jars="+postgresJar(t))
	}
	start := func() *bridgeProc {
		b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{}, flags...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if b.cmd.ProcessState == nil {
				_ = b.stop()
			}
		})
		return b
	}
	b := start()
	db := "persist_" + randomMarker()

	// Written through three clients.
	beelineAt(t, b.thriftAddr, "alice", "", "CREATE DATABASE "+db+" COMMENT 'kept'; "+
		"CREATE TABLE "+db+".items (id INT, name STRING) USING parquet COMMENT 'the items'; "+
		"INSERT INTO "+db+".items VALUES (1, 'one'), (2, 'two'); "+
		"CREATE VIEW "+db+".even_items AS SELECT * FROM "+db+".items WHERE id % 2 = 0; "+
		"CREATE TABLE "+db+".raw_orders (customer STRING, amount DOUBLE) USING parquet; "+
		"INSERT INTO "+db+".raw_orders VALUES ('a', 1.5), ('a', 2.5), ('b', 4.0)")
	if dsv2 {
		beelineAt(t, b.thriftAddr, "alice", "", "CREATE TABLE pg.public.pg_orders (id INT, note STRING); "+
			"INSERT INTO pg.public.pg_orders VALUES (1, 'kept in postgres')")
	}
	var out struct {
		User  string `json:"user"`
		Count int    `json:"count"`
		Owner string `json:"owner"`
	}
	pyspark(t, &out, "pyspark_append.py", "sc://"+b.connectAddr+"/;user_id=alice", db+".items", "3,4")
	if out.Count != 4 || out.User != "alice" || out.Owner != "alice" {
		t.Fatalf("PySpark append: %+v, want 4 rows as alice", out)
	}
	dbtRun(t, b, "alice", db)
	checkPersisted(t, b, db, "after the first writes")

	// The engine stops on its idle timeout; the next sessions launch a new one.
	waitNoEngines(t, b)
	checkPersisted(t, b, db, "after the engine's idle stop")

	// A bridge restart: a new metastore process on the same database.
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	b = start()
	checkPersisted(t, b, db, "after a bridge restart")
	if dsv2 {
		// A fresh engine: the JDBC catalog is configured but no session has loaded it yet.
		meta := jdbcMeta(t, b.thriftAddr, "public")
		for _, row := range []string{
			"schema\tpg\tpublic",
			"table\tpg\tpublic\tpg_orders\tTABLE\t",
			"column\tpg\tpublic\tpg_orders\tid\t4\tINT\t4\t0\t1\t\t1",
		} {
			if !slices.Contains(meta, row) {
				t.Errorf("DSv2 catalog metadata lacks %q:\n%s", row, strings.Join(meta, "\n"))
			}
		}
		if got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT id, note FROM pg.public.pg_orders"); strings.Join(got, "|") != "id,note|1,kept in postgres" {
			t.Errorf("reading the JDBC catalog: %q", got)
		}
	}
	// dbt replaces its table, built by an engine that is gone, in place, and its catalog
	// names the user who built it.
	dbtRun(t, b, "alice", db)
	if owner := dbtOwner(t, b, "alice", db); owner != "alice" {
		t.Errorf("dbt's catalog says the model's owner is %q, want alice", owner)
	}

	// A killed metastore: a clear error, not a hang; then a restart and a working query.
	ms := b.metastorePID()
	if ms == 0 {
		t.Fatal("the bridge runs no metastore")
	}
	mark := len(b.log())
	if err := syscall.Kill(ms, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := beelineTry(b.thriftAddr, "alice", "SHOW TABLES IN "+db)
	if err == nil {
		// The supervisor can be quicker than beeline's start; then the query must work.
		if !strings.Contains(stdout, "items") {
			t.Fatalf("SHOW TABLES after a metastore kill succeeded without the tables: %s", stdout)
		}
	} else if !regexp.MustCompile(`(?i)meta ?store`).MatchString(stdout + stderr) {
		t.Fatalf("query against a dead metastore failed without naming it:\n%s\n%s", tail(stdout, 10), tail(stderr, 10))
	}
	waitLog(t, b, mark, `msg="metastore ready"`)
	if got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT count(*) AS n FROM "+db+".items"); strings.Join(got, "|") != "n|4" {
		t.Fatalf("after the metastore restart: %q", got)
	}

	ms = b.metastorePID()
	engines := b.enginePIDs()
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range append(engines, ms) {
		if alive(pid) {
			t.Errorf("JVM %d still running after the bridge stopped", pid)
		}
	}
}

// checkPersisted reads everything catalogPersistence wrote, through beeline and PySpark.
func checkPersisted(t *testing.T, b *bridgeProc, db, when string) {
	t.Helper()
	got := beelineAt(t, b.thriftAddr, "alice", "", "SHOW TABLES IN "+db+"; "+
		"SELECT id, name FROM "+db+".items ORDER BY id; SELECT id FROM "+db+".even_items ORDER BY id")
	want := []string{"namespace,tableName,isTemporary"}
	for _, tbl := range []string{"customer_totals", "even_items", "items", "items_py", "raw_orders"} {
		want = append(want, db+","+tbl+",false")
	}
	want = append(want, "id,name", "1,one", "2,two", "3,py-3", "4,py-4", "id", "2", "4")
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s, beeline read %q, want %q", when, got, want)
	}
	var rows [][]any
	pyspark(t, &rows, "pyspark_query.py", "sc://"+b.connectAddr+"/;user_id=alice",
		"SELECT customer, total, orders FROM "+db+".customer_totals ORDER BY customer")
	if g := jsonString(rows); g != `[["a",4,2],["b",4,1]]` {
		t.Fatalf("%s, PySpark read the dbt model as %s", when, g)
	}
}

// dbtRun runs dbt-spark (thrift method, PyHive) over the bridge at b: one table model.
func dbtRun(t *testing.T, b *bridgeProc, user, schema string) {
	t.Helper()
	dbt(t, b, user, schema, "run")
}

// dbtOwner runs dbt docs generate and returns the owner dbt's catalog records for the model.
func dbtOwner(t *testing.T, b *bridgeProc, user, schema string) string {
	t.Helper()
	target := dbt(t, b, user, schema, "docs", "generate")
	data, err := os.ReadFile(filepath.Join(target, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var catalog struct {
		Nodes map[string]struct {
			Metadata struct {
				Owner string `json:"owner"`
			} `json:"metadata"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(data, &catalog); err != nil {
		t.Fatal(err)
	}
	node, ok := catalog.Nodes["model.sparkbridge_catalog.customer_totals"]
	if !ok {
		t.Fatalf("dbt's catalog has no customer_totals model: %s", data)
	}
	return node.Metadata.Owner
}

// dbt runs a dbt command over the bridge at b and returns its target directory.
func dbt(t *testing.T, b *bridgeProc, user, schema string, args ...string) string {
	t.Helper()
	dbt, err := filepath.Abs(filepath.Join("..", ".venv-dbt", "bin", "dbt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dbt); err != nil {
		t.Fatalf("dbt is missing (make clients installs it): %v", err)
	}
	project, _ := filepath.Abs(filepath.Join("testdata", "dbt"))
	work := t.TempDir()
	host, port, _ := strings.Cut(b.thriftAddr, ":")
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dbt, append(args, "--project-dir", project, "--profiles-dir", project,
		"--target-path", filepath.Join(work, "target"), "--log-path", filepath.Join(work, "logs"))...)
	cmd.Env = append(os.Environ(), "DBT_SPARK_HOST="+host, "DBT_SPARK_PORT="+port, "DBT_SPARK_USER="+user,
		"DBT_SPARK_SCHEMA="+schema, "DBT_SEND_ANONYMOUS_USAGE_STATS=false")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("dbt %s: %v\n%s", strings.Join(args, " "), err, tail(buf.String(), 30))
	}
	if args[0] == "run" && (!strings.Contains(buf.String(), "PASS=1") || strings.Contains(buf.String(), "LOCATION_ALREADY_EXISTS")) {
		t.Fatalf("dbt run did not pass its model:\n%s", tail(buf.String(), 30))
	}
	return filepath.Join(work, "target")
}

// beelineTry runs one beeline statement and returns its output and error, for statements
// that may fail.
func beelineTry(addr, user, sql string) (string, string, error) {
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+addr+"/default", "-n", user, "-p", "x", "--outputformat=csv2", "-e", sql)
	cmd.Env = append(os.Environ(), "SPARK_HOME="+bridge.sparkHome)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("beeline hung: %w", ctx.Err())
	}
	return stdout.String(), stderr.String(), err
}

// waitNoEngines waits, bounded, until the bridge at b runs no engine.
func waitNoEngines(t *testing.T, b *bridgeProc) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(b.enginePIDs()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("engines %v still running past their idle timeout; log tail:\n%s", b.enginePIDs(), b.logTail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLog waits, bounded, until b's log after offset mark matches re.
func waitLog(t *testing.T, b *bridgeProc, mark int, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if l := b.log(); len(l) > mark && rx.MatchString(l[mark:]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the bridge log; tail:\n%s", re, b.logTail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// postgresJar is the pinned PostgreSQL JDBC driver that make clients fetches.
func postgresJar(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join("..", ".cache", "jars", "postgresql-*.jar"))
	if len(matches) != 1 {
		t.Fatalf("want one PostgreSQL JDBC jar in .cache/jars (make clients fetches it), found %v", matches)
	}
	abs, _ := filepath.Abs(matches[0])
	return abs
}

// TestCatalogMetadataMatchesSTS creates a managed table, an external table, a Hive-format
// table, a partitioned table and a view (with comments) through the bridge, then asks the
// bridge and Spark Thrift Server, attached to the same metastore, for their schemas, tables
// and columns with JDBC DatabaseMetaData. Every value matches but TABLE_CAT: STS leaves it
// empty, the bridge names the catalog (spark_catalog), since it lists DSv2 catalogs too.
func TestCatalogMetadataMatchesSTS(t *testing.T) {
	db := "meta_" + randomMarker()
	ext := filepath.Join(workDir, "ext_"+db)
	beeline(t, "etl", "CREATE DATABASE "+db+" COMMENT 'metadata check'; "+
		"CREATE TABLE "+db+".managed (id BIGINT COMMENT 'the id', name STRING, price DECIMAL(10,2), ok BOOLEAN, at TIMESTAMP) USING parquet COMMENT 'a managed table'; "+
		"CREATE TABLE "+db+".external (a INT, b STRING) USING parquet LOCATION '"+ext+"'; "+
		"CREATE TABLE "+db+".hive_fmt (x INT COMMENT 'hive column', d DATE) STORED AS PARQUET; "+
		"CREATE TABLE "+db+".parted (v DOUBLE, p STRING) USING parquet PARTITIONED BY (p); "+
		"CREATE VIEW "+db+".v COMMENT 'a view' AS SELECT id, name FROM "+db+".managed")
	sts := sharedThriftServer(t)
	got := jdbcMeta(t, bridge.thriftAddr, db)
	want := jdbcMeta(t, sts, db)
	if len(want) < 5+14 {
		t.Fatalf("Spark Thrift Server listed too little for %s:\n%s", db, strings.Join(want, "\n"))
	}
	// TABLE_CAT (the second field) differs by design; everything else must not.
	strip := func(lines []string) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			// The catalog column, TABLE_CAT or getSchemas' TABLE_CATALOG.
			if f := strings.Split(l, "\t"); len(f) > 1 {
				f[1] = ""
				l = strings.Join(f, "\t")
			}
			out[i] = l
		}
		return out
	}
	g, w := strip(got), strip(want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("DatabaseMetaData differs.\nbridge:\n%s\nSpark Thrift Server:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range got {
		if f := strings.Split(l, "\t"); f[0] != "schema" && f[1] != "spark_catalog" {
			t.Errorf("bridge row outside spark_catalog: %q", l)
		}
	}
	for _, row := range []string{
		"table\t\t" + db + "\tmanaged\tTABLE\ta managed table",
		"table\t\t" + db + "\texternal\tTABLE\t",
		"table\t\t" + db + "\tv\tVIEW\ta view",
		"column\t\t" + db + "\thive_fmt\tx\t4\tINT\t4\t0\t1\thive column\t1",
	} {
		if !slices.Contains(g, row) {
			t.Errorf("bridge metadata lacks %q", row)
		}
	}
}

var (
	jdbcMetaOnce sync.Once
	jdbcMetaErr  error
)

// jdbcMeta runs testdata/JdbcMeta.java (compiled once) against the HS2 server at addr.
func jdbcMeta(t *testing.T, addr, schema string) []string {
	t.Helper()
	classes := filepath.Join(workDir, "jdbcmeta-classes")
	cp := filepath.Join(bridge.sparkHome, "jars", "*")
	jdbcMetaOnce.Do(func() {
		out, err := exec.Command("javac", "-d", classes, "-cp", cp, filepath.Join("testdata", "JdbcMeta.java")).CombinedOutput()
		if err != nil {
			jdbcMetaErr = fmt.Errorf("javac: %v\n%s", err, out)
		}
	})
	if jdbcMetaErr != nil {
		t.Fatal(jdbcMetaErr)
	}
	out := runClient(t, 5*time.Minute, "java", "-cp", classes+string(os.PathListSeparator)+cp, "JdbcMeta",
		"jdbc:hive2://"+addr+"/default", "etl", schema)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
