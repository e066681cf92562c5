package itest

import (
	"encoding/json"
	"net"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// wantClientRows is what every client must read for clientQuery.
var wantClientRows = []any{
	[]any{0.0, "0", true, nil},
	[]any{1.0, "1", false, nil},
	[]any{2.0, "2", true, nil},
}

// TestPythonHS2Clients runs PyHive (binary, SASL PLAIN) and impyla (binary PLAIN, and HTTP)
// through the bridge.
func TestPythonHS2Clients(t *testing.T) {
	for _, c := range []struct{ client, addr string }{
		{"pyhive", bridge.thriftAddr},
		{"impyla", bridge.thriftAddr},
		{"impyla-http", bridge.httpAddr},
	} {
		t.Run(c.client, func(t *testing.T) {
			host, port, _ := net.SplitHostPort(c.addr)
			var rows []any
			pyspark(t, &rows, "hs2_clients.py", c.client, host, port)
			if !reflect.DeepEqual(rows, wantClientRows) {
				t.Fatalf("%s read %v, want %v", c.client, rows, wantClientRows)
			}
		})
	}
}

// TestHiveDriverNode runs the npm package hive-driver through the bridge over TCP (SASL
// PLAIN) and HTTP.
func TestHiveDriverNode(t *testing.T) {
	for _, c := range []struct{ mode, addr string }{{"tcp", bridge.thriftAddr}, {"http", bridge.httpAddr}} {
		t.Run(c.mode, func(t *testing.T) {
			host, port, _ := net.SplitHostPort(c.addr)
			out := runClient(t, 2*time.Minute, "node", filepath.Join("node", "hive_driver_check.js"), host, port, c.mode)
			var rows []map[string]any
			if err := json.Unmarshal([]byte(out), &rows); err != nil {
				t.Fatalf("hive-driver printed %q: %v", out, err)
			}
			var got []any
			for _, r := range rows {
				got = append(got, []any{r["id"], r["s"], r["even"], r["n"]})
			}
			if !reflect.DeepEqual(got, wantClientRows) {
				t.Fatalf("hive-driver read %v, want %v", got, wantClientRows)
			}
		})
	}
}
