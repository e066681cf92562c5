package itest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/beltran/gohive"
)

// gohiveQuery runs a query with gohive over the given transport and auth and returns the
// rows as maps.
func gohiveQuery(t *testing.T, addr, transport, auth, query string) []map[string]any {
	t.Helper()
	rows, err := gohiveQueryWith(addr, transport, auth, query, nil)
	if err != nil {
		t.Fatalf("gohive %s/%s: %v", transport, auth, err)
	}
	return rows
}

// gohiveQueryWith is gohiveQuery with a hook to adjust the configuration (TLS, password).
func gohiveQueryWith(addr, transport, auth, query string, adjust func(*gohive.ConnectConfiguration)) (rows []map[string]any, err error) {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	conf := gohive.NewConnectConfiguration()
	conf.Username, conf.Password = "alice", "x"
	conf.TransportMode = transport
	conf.FetchSize = 1000
	if adjust != nil {
		adjust(conf)
	}
	defer func() {
		if r := recover(); r != nil { // gohive panics on some connection failures
			err = fmt.Errorf("gohive panicked: %v", r)
		}
	}()
	conn, err := gohive.Connect(host, port, auth, conf)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	cursor := conn.Cursor()
	defer cursor.Close()
	ctx := context.Background()
	cursor.Exec(ctx, query)
	if cursor.Err != nil {
		return nil, fmt.Errorf("exec: %w", cursor.Err)
	}
	for cursor.HasMore(ctx) {
		m := cursor.RowMap(ctx)
		if cursor.Err != nil {
			return nil, fmt.Errorf("fetch: %w", cursor.Err)
		}
		rows = append(rows, m)
	}
	return rows, nil
}

// TestGohive runs a query with the gohive Go client over the binary transport (SASL PLAIN
// and NOSASL) and over HTTP.
func TestGohive(t *testing.T) {
	const query = "SELECT id, CAST(id AS STRING) AS s, id % 2 = 0 AS even, IF(id = 3, NULL, id * 1.5D) AS d FROM range(2500)"
	for _, c := range []struct{ addr, transport, auth string }{
		{bridge.thriftAddr, "binary", "NONE"},
		{bridge.thriftAddr, "binary", "NOSASL"},
		{bridge.httpAddr, "http", "NONE"},
	} {
		t.Run(c.transport+"-"+c.auth, func(t *testing.T) {
			rows := gohiveQuery(t, c.addr, c.transport, c.auth, query)
			if len(rows) != 2500 {
				t.Fatalf("%d rows, want 2500", len(rows))
			}
			for i, r := range rows {
				if r["id"] != int64(i) || r["s"] != strconv.Itoa(i) || r["even"] != (i%2 == 0) {
					t.Fatalf("row %d = %v", i, r)
				}
				if i == 3 && r["d"] != nil || i != 3 && r["d"] != float64(i)*1.5 {
					t.Fatalf("row %d d = %v", i, r["d"])
				}
			}
		})
	}
}
