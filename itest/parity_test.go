package itest

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// impylaMeta runs testdata/impyla_meta.py against addr and returns its answers by question.
func impylaMeta(t *testing.T, addr, transport, db string) map[string]any {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	raw := runClient(t, 10*time.Minute, filepath.Join(bridge.venv, "bin", "python"),
		filepath.Join("testdata", "impyla_meta.py"), host, port, transport, db)
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("impyla_meta.py printed %q: %v", tail(raw, 20), err)
	}
	return out
}

// stripCatalog blanks the catalog column of metadata rows (TABLE_CAT, TABLE_CATALOG,
// FUNCTION_CAT) wherever it is in rows of the named answer: Spark Thrift Server leaves it
// empty, the bridge names the catalog, by design, since it lists DSv2 catalogs too.
func stripCatalog(key string, v any) any {
	col := 0
	switch {
	case strings.HasPrefix(key, "get_databases"), strings.HasPrefix(key, "GetSchemas"):
		col = 1
	case strings.HasPrefix(key, "get_tables"), strings.HasPrefix(key, "GetTables"), strings.HasPrefix(key, "GetColumns"),
		strings.HasPrefix(key, "get_functions(db)") && !strings.HasSuffix(key, "remarks"):
	default:
		return v
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			m := map[string]any{}
			for k, e := range x {
				m[k] = walk(e)
			}
			return m
		case []any:
			if len(x) > col {
				if _, isRow := x[col].(string); isRow || x[col] == nil {
					row := append([]any(nil), x...)
					row[col] = ""
					return row
				}
			}
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e)
			}
			return out
		}
		return v
	}
	return walk(v)
}

// TestImpylaMetadataMatchesSTS asks impyla's metadata questions (its cursor calls and raw
// GetSchemas, GetTables and GetColumns over a matrix of patterns, result-set descriptions
// and GetInfo) of Spark Thrift Server and of the bridge over binary and HTTP, and compares
// every answer value by value. Only the catalog column differs by design.
func TestImpylaMetadataMatchesSTS(t *testing.T) {
	db := "imp_" + randomMarker()
	beeline(t, "alice", "CREATE DATABASE "+db+"; "+
		"CREATE TABLE "+db+".t (id BIGINT COMMENT 'the id', name STRING, addr STRUCT<City: STRING, zip: INT>, "+
		"tags MAP<STRING, ARRAY<INT>>, `my col` DECIMAL(12,3)) USING parquet COMMENT 'impyla table'; "+
		"CREATE VIEW "+db+".v AS SELECT id FROM "+db+".t")
	sts := sharedThriftServer(t)
	want := impylaMeta(t, sts, "binary", db)
	// t, v, and the script's local temporary view, which every schema's listing includes.
	if tables, _ := want["get_tables(db)"].([]any); len(tables) != 3 {
		t.Fatalf("Spark Thrift Server listed %v in %s, want t, v and imp_local", want["get_tables(db)"], db)
	}
	info, _ := want["GetInfo"].(map[string]any)
	if kw, _ := info["CLI_ODBC_KEYWORDS"].(string); !strings.Contains(","+kw+",", ",SELECT,") {
		t.Fatalf("Spark Thrift Server's CLI_ODBC_KEYWORDS is %q, without SELECT", kw)
	}
	for _, c := range []struct{ transport, addr string }{{"binary", bridge.thriftAddr}, {"http", bridge.httpAddr}} {
		t.Run(c.transport, func(t *testing.T) {
			got := impylaMeta(t, c.addr, c.transport, db)
			keys := make([]string, 0, len(want))
			for k := range want {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			same := 0
			for _, k := range keys {
				w, g := stripCatalog(k, want[k]), stripCatalog(k, got[k])
				if !reflect.DeepEqual(w, g) {
					t.Errorf("%s differs:\n%s", k, jsonDiff(g, w))
					continue
				}
				same++
			}
			t.Logf("%d of %d impyla answers match Spark Thrift Server's over %s", same, len(keys), c.transport)
		})
	}
}

// jsonDiff shows the lines of got and want's JSON (one row, or one map entry, per line)
// that only one of them has.
func jsonDiff(got, want any) string {
	lines := func(v any) []string {
		var out []string
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					walk(prefix+k+": ", e)
				}
			case []any:
				if len(x) > 0 {
					if _, nested := x[0].([]any); nested {
						for _, e := range x {
							walk(prefix, e)
						}
						return
					}
				}
				b, _ := json.Marshal(x)
				out = append(out, prefix+string(b))
			default:
				b, _ := json.Marshal(x)
				out = append(out, prefix+string(b))
			}
		}
		walk("", v)
		return out
	}
	count := func(ls []string) map[string]int {
		m := map[string]int{}
		for _, l := range ls {
			m[l]++
		}
		return m
	}
	g, w := count(lines(got)), count(lines(want))
	var b strings.Builder
	n := 0
	for _, side := range []struct {
		name      string
		mine, not map[string]int
	}{{"bridge only", g, w}, {"Spark Thrift Server only", w, g}} {
		var only []string
		for l, c := range side.mine {
			if c > side.not[l] {
				only = append(only, l)
			}
		}
		sort.Strings(only)
		for _, l := range only {
			if n++; n > 40 {
				b.WriteString("  ...\n")
				return b.String()
			}
			fmt.Fprintf(&b, "  %s: %s\n", side.name, l)
		}
	}
	if n == 0 {
		b.WriteString("  (same rows, different order)\n")
	}
	return b.String()
}

// TestSQLAlchemyHiveMatchesSTS runs Superset's use of PyHive's SQLAlchemy dialect (hive://):
// the inspector's schema, table, view, column and index answers, the raw SHOW and DESCRIBE
// rows the dialect parses, and a query with a LIMIT, against Spark Thrift Server and the
// bridge, and compares them value by value.
func TestSQLAlchemyHiveMatchesSTS(t *testing.T) {
	db := "sqla_" + randomMarker()
	beeline(t, "alice", "CREATE DATABASE "+db+"; "+
		"CREATE TABLE "+db+".t (id BIGINT COMMENT 'the id', name STRING, price DECIMAL(10,2), tags ARRAY<STRING>, at TIMESTAMP) USING parquet; "+
		"INSERT INTO "+db+".t VALUES (2, 'b', 2.50, array('y'), TIMESTAMP'2024-01-02 03:04:05'), (1, 'a', 1.25, array('x', 'z'), NULL), (3, 'c', NULL, NULL, NULL); "+
		"CREATE TABLE "+db+".parted (v DOUBLE, p STRING) USING parquet PARTITIONED BY (p); "+
		"CREATE VIEW "+db+".v AS SELECT id, name FROM "+db+".t")
	sts := sharedThriftServer(t)
	run := func(addr string) map[string]any {
		host, port, _ := net.SplitHostPort(addr)
		var out map[string]any
		raw := runClient(t, 5*time.Minute, filepath.Join(bridge.venv, "bin", "python"), filepath.Join("testdata", "sqlalchemy_hive.py"), host, port, db)
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("sqlalchemy_hive.py printed %q: %v", tail(raw, 20), err)
		}
		return out
	}
	want, got := run(sts), run(bridge.thriftAddr)
	if rows, _ := want["query rows"].([]any); len(rows) != 2 {
		t.Fatalf("Spark Thrift Server returned %v for the query", want["query rows"])
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Errorf("%s differs:\n%s", k, jsonDiff(got[k], want[k]))
		}
	}
	t.Logf("%d SQLAlchemy answers compared", len(keys))
}
