package itest

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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

// saslLogin negotiates SASL PLAIN from local address from and reports whether the bridge
// accepted the credentials.
func saslLogin(t *testing.T, from, addr, user, password string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := func(status byte, payload string) []byte {
		b := []byte{status, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
		return append(b, payload...)
	}
	if _, err := c.Write(append(msg(1, "PLAIN"), msg(5, "\x00"+user+"\x00"+password)...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("no SASL answer: %v", err)
	}
	return hdr[0] == 5 // COMPLETE; BAD is 3
}

// TestWrongPasswordsAreThrottled: 500 wrong passwords from one address are slowed by the
// per-address backoff to at least 30 s in all, and meanwhile a correct login from another
// address is served within a second.
func TestWrongPasswordsAreThrottled(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "throttle-")
	if err != nil {
		t.Fatal(err)
	}
	// A cheap hash (10,000 rounds), so that the test measures the backoff, not PBKDF2.
	salt := []byte("0123456789abcdef")
	key, _ := pbkdf2.Key(sha256.New, "right-pw", salt, 10000, 32)
	enc := base64.RawStdEncoding
	hash := fmt.Sprintf("pbkdf2-sha256$10000$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(key))
	usersFile := filepath.Join(dir, "users.json")
	if err := os.WriteFile(usersFile, []byte(fmt.Sprintf(`{"users": [{"name": "alice", "password": %q}]}`, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{},
		"-auth", "FILE", "-users-file", usersFile, "-auth-backoff-max", "100ms", "-catalog", "in-memory")
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	if !saslLogin(t, "127.0.0.2", b.thriftAddr, "alice", "right-pw") {
		t.Fatal("the right password was refused")
	}

	start := time.Now()
	attack := make(chan time.Duration)
	go func() {
		for i := 0; i < 500; i++ {
			if saslLogin(t, "127.0.0.1", b.thriftAddr, "alice", fmt.Sprint("guess-", i)) {
				t.Errorf("wrong password %d accepted", i)
			}
		}
		attack <- time.Since(start)
	}()
	time.Sleep(5 * time.Second) // well into the attack
	t0 := time.Now()
	if !saslLogin(t, "127.0.0.2", b.thriftAddr, "alice", "right-pw") {
		t.Fatal("the right password was refused during the attack")
	}
	if took := time.Since(t0); took > time.Second {
		t.Errorf("a correct login from another address took %v during the attack", took)
	}
	took := <-attack
	if took < 30*time.Second {
		t.Errorf("500 wrong passwords took %v; the backoff should hold them to at least 30 s", took)
	}
	t.Logf("500 wrong passwords took %v", took.Round(time.Millisecond))
	// The refusals were logged as summaries, not one line each.
	if n := strings.Count(b.log(), "authentication refused"); n == 0 || n > 20 {
		t.Errorf("%d refusal summary lines for 500 refusals", n)
	}
}
