package itest

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// sendGarbage writes bytes that are no valid protocol message and returns once the bridge
// has closed the connection.
func sendGarbage(t *testing.T, addr string, garbage []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(garbage); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	// EOF or a reset both mean the bridge closed the connection; only a timeout means it did not.
	if _, err := io.ReadAll(c); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the bridge did not close the connection after garbage: %v", err)
		}
	}
}

// TestGarbageClosesOnlyThatConnection sends garbage to both ports and checks that each such
// connection is closed with a logged reason while the bridge keeps serving both protocols.
func TestGarbageClosesOnlyThatConnection(t *testing.T) {
	sendGarbage(t, bridge.thriftAddr, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	// A SASL START for a mechanism the bridge does not offer.
	sendGarbage(t, bridge.thriftAddr, []byte{1, 0, 0, 0, 6, 'G', 'S', 'S', 'A', 'P', 'I'})
	// NOSASL with a truncated message.
	sendGarbage(t, bridge.thriftAddr, []byte{0x80, 0x01, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff, 'x'})
	sendGarbage(t, bridge.connectAddr, []byte("\x00\x01garbage that is not an HTTP/2 preface\r\n\r\n"))

	deadline := time.Now().Add(10 * time.Second)
	wants := []string{
		"first byte 0x47 is neither a SASL START nor a Thrift binary message",
		`unsupported SASL mechanism \"GSSAPI\"`,
		"closing connection: protocol error",
		"instead of the HTTP/2 preface",
	}
	for _, want := range wants {
		for !strings.Contains(bridge.log(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("bridge log has no %q; tail:\n%s", want, bridge.logTail(30))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	if got := beeline(t, "alice", "SELECT 40 + 2 AS answer"); len(got) != 2 || got[1] != "42" {
		t.Fatalf("after garbage, beeline printed %q", got)
	}
	var rows [][]float64
	pyspark(t, &rows, "pyspark_query.py", connectURL("alice"), "SELECT 6 * 7")
	if len(rows) != 1 || rows[0][0] != 42 {
		t.Fatalf("after garbage, PySpark read %v", rows)
	}
}
