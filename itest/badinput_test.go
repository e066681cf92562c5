package itest

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sendGarbage writes bytes that are no valid protocol message and returns once the bridge
// has closed the connection.
func sendGarbage(t *testing.T, addr string, garbage []byte) {
	t.Helper()
	sendGarbageThen(t, addr, garbage, false)
}

// sendGarbageThen is sendGarbage; with closeWrite the client half-closes after writing, as
// a client that sent a short frame and left does.
func sendGarbageThen(t *testing.T, addr string, garbage []byte, closeWrite bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(garbage); err != nil {
		t.Fatal(err)
	}
	if closeWrite {
		_ = c.(*net.TCPConn).CloseWrite()
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
	st, _ := saslAnswer(t, from, addr, user, password)
	return st == 5 // COMPLETE; BAD is 3
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

// procStatus reads a field (in kB for sizes) of /proc/PID/status.
func procStatusKB(t *testing.T, pid int, field string) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var n int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// cpuTicks is the process's user+system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	var u, s int
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &s)
	return u + s
}

func saslFrameBytes(payload []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
}

var saslHello = []byte{1, 0, 0, 0, 5, 'P', 'L', 'A', 'I', 'N', 5, 0, 0, 0, 4, 0, 'm', 0, 'p'}

// A short SASL frame and a stream of unknown methods close their connections at once: the
// log grows by a few lines and the bridge's CPU returns to idle.
func TestShortFrameAndUnknownMethods(t *testing.T) {
	pid := bridge.cmd.Process.Pid
	logBefore := strings.Count(bridge.log(), "\n")
	// 55 bytes: a SASL PLAIN negotiation, then a frame that promises 1000 bytes and ends.
	short := append(append([]byte{}, saslHello...), 0, 0, 0x03, 0xe8)
	short = append(short, make([]byte, 55-len(short)-4)...)
	short = append(short, 0x80, 0x01, 0x00, 0x01)
	sendGarbageThen(t, bridge.thriftAddr, short, true)
	unknown := []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, 'N', 'o', 'p', 'e', 0, 0, 0, 1, 0}
	stream := append([]byte{}, saslHello...)
	for i := 0; i < 2000; i++ {
		stream = append(append(stream, saslFrameBytes(unknown)...), unknown...)
	}
	sendGarbage(t, bridge.thriftAddr, stream)
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(bridge.log(), "\n") - logBefore; n > 10 {
		t.Errorf("the log grew by %d lines:\n%s", n, bridge.logTail(n))
	}
	before := cpuTicks(t, pid)
	time.Sleep(2 * time.Second)
	if used := cpuTicks(t, pid) - before; used > 50 { // 0.5 s of CPU in 2 s: spinning
		t.Errorf("the bridge used %d ticks of CPU in 2 idle seconds", used)
	}
}

// Declared-size bombs on every transport: each connection costs the bridge at most 16 MiB
// of RSS, and a normal client is served while they are held open.
func TestDeclaredSizeBombsCostLittle(t *testing.T) {
	pid := bridge.cmd.Process.Pid
	mapBomb := []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 11, 'O', 'p', 'e', 'n', 'S', 'e', 's', 's', 'i', 'o', 'n', 0, 0, 0, 1,
		0x0c, 0, 1, 0x0d, 0, 4, 0x0b, 0x0b, 0x00, 0x80, 0x2c, 0x40}
	listBomb := []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 9, 'G', 'e', 't', 'T', 'a', 'b', 'l', 'e', 's', 0, 0, 0, 1,
		0x0c, 0, 1, 0x0f, 0, 5, 0x0b, 0x01, 0xc9, 0xc3, 0x80}
	// OpenSession whose username string claims 200,000,000 bytes.
	stringBomb := []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 11, 'O', 'p', 'e', 'n', 'S', 'e', 's', 's', 'i', 'o', 'n', 0, 0, 0, 1,
		0x0c, 0, 1, 0x0b, 0, 2, 0x0b, 0xeb, 0xc2, 0x00, 'x'}
	bombs := map[string][]byte{
		"nosasl string": stringBomb,
		"sasl string":   append(append(append([]byte{}, saslHello...), saslFrameBytes(stringBomb)...), stringBomb...),
		"nosasl map":    mapBomb,
		"nosasl list":   listBomb,
		"sasl map":      append(append(append([]byte{}, saslHello...), saslFrameBytes(mapBomb)...), mapBomb...),
		"sasl frame":    append(append([]byte{}, saslHello...), 0x0f, 0xff, 0xff, 0xf0, 0x80, 0x01),
	}
	const perConn = 3
	rssBefore := procStatusKB(t, pid, "VmRSS")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for name, bomb := range bombs {
		for i := 0; i < perConn; i++ {
			c, err := net.Dial("tcp", bridge.thriftAddr)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			held = append(held, c)
			if _, err := c.Write(bomb); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	// HTTP: a body whose map declares 8.4M entries.
	for i := 0; i < perConn; i++ {
		resp, err := http.Post("http://"+bridge.httpAddr+"/cliservice", "application/x-thrift", bytes.NewReader(mapBomb))
		if err == nil {
			resp.Body.Close()
		}
	}
	time.Sleep(time.Second)
	if got := beeline(t, "alice", "SELECT 1 AS one"); strings.Join(got, "|") != "one|1" {
		t.Fatalf("beeline during the bombs: %q", got)
	}
	grew := procStatusKB(t, pid, "VmRSS") - rssBefore
	conns := len(bombs)*perConn + perConn
	t.Logf("%d bomb connections grew the bridge's RSS by %d KiB", conns, grew)
	if grew > conns*16*1024 {
		t.Errorf("RSS grew by %d MiB for %d connections (over 16 MiB each)", grew/1024, conns)
	}
}

// With the open-files limit lowered to 256, 512 idle connections leave the bridge alive;
// once they are gone, beeline works.
func TestIdleConnectionFloodWithFewFiles(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Fatalf("prlimit (util-linux) is needed: %v", err)
	}
	dir, err := os.MkdirTemp(workDir, "fds-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{"flood": "harness"}, "-catalog", "in-memory")
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	pid := strconv.Itoa(b.cmd.Process.Pid)
	if out, err := exec.Command("prlimit", "--pid", pid, "--nofile=256:256").CombinedOutput(); err != nil {
		t.Fatalf("prlimit: %v: %s", err, out)
	}
	var conns []net.Conn
	for i := 0; i < 512; i++ {
		c, err := net.DialTimeout("tcp", b.thriftAddr, 5*time.Second)
		if err != nil {
			break // the kernel's backlog is full: the point is made
		}
		conns = append(conns, c)
	}
	t.Logf("%d idle connections opened against a limit of 256 files", len(conns))
	time.Sleep(2 * time.Second)
	if b.cmd.ProcessState != nil || !alive(b.cmd.Process.Pid) {
		t.Fatalf("the bridge died under the flood; log:\n%s", b.logTail(20))
	}
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(2 * time.Second)
	if got := beelineAt(t, b.thriftAddr, "flood", "", "SELECT 7 * 6 AS answer"); strings.Join(got, "|") != "answer|42" {
		t.Fatalf("beeline after the flood: %q", got)
	}
	if n := strings.Count(b.log(), "accept failed"); n > 10 {
		t.Errorf("%d accept-failure log lines: not rate-limited", n)
	}
}
