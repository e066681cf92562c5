package itest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMStopsEngines starts a second bridge, gives it two engines (two users), sends it
// SIGTERM and checks that it exits cleanly with no engine JVM left running.
func TestSIGTERMStopsEngines(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "sigterm-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridge(bridgeBin, dir, bridge.sparkHome, bridge.venv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.cmd.Process.Kill() }()

	main := bridge
	bridge = b // the client helpers talk to the package's bridge variable
	defer func() { bridge = main }()
	if got := beeline(t, "erin", "SELECT 1 AS one"); len(got) != 2 || got[1] != "1" {
		t.Fatalf("beeline printed %q", got)
	}
	var rows [][]float64
	pyspark(t, &rows, "pyspark_query.py", connectURL("frank"), "SELECT 2")
	pids := b.enginePIDs()
	if len(pids) != 2 {
		t.Fatalf("second bridge runs engines %v, want 2", pids)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Fatalf("engine JVM %d still running after the bridge exited on SIGTERM; bridge log:\n%s", pid, b.logTail(20))
		}
	}
}

// TestSIGTERMDrainsInFlightQueries sends SIGTERM to a bridge while a beeline query (binary
// transport), an impyla query (HTTP transport, polling) and a PySpark query are running.
// Each started before the signal and completes, with its result; then the bridge exits
// cleanly and leaves no JVM behind. New sessions during the drain are refused.
func TestSIGTERMDrainsInFlightQueries(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "drain-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{}, "-shutdown-grace", "60s")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.cmd.Process.Kill() }()
	// Warm the user's engine, so that the queries below run on it at once.
	beelineAt(t, b.thriftAddr, "drain", "", "SELECT 1")

	const millis = "4000"
	// reflect() of a void method returns the string "null", so slept is false.
	query := "SELECT reflect('java.lang.Thread', 'sleep', CAST(" + millis + " AS BIGINT)) IS NULL AS slept, 42 AS answer"
	host, port, _ := strings.Cut(b.httpAddr, ":")
	clients := []*drainClient{
		startDrainClient(t, "beeline", "Submitted statement", filepath.Join(b.sparkHome, "bin", "beeline"),
			"-u", "jdbc:hive2://"+b.thriftAddr+"/default", "-n", "drain", "-p", "x", "--outputformat=csv2", "-e", query),
		startDrainClient(t, "impyla-http", "submitted", filepath.Join(b.venv, "bin", "python"),
			filepath.Join("testdata", "drain_client.py"), "impyla-http", host, port, "drain", millis),
		startDrainClient(t, "pyspark", "submitted", filepath.Join(b.venv, "bin", "python"),
			filepath.Join("testdata", "drain_client.py"), "pyspark", "sc://"+b.connectAddr+"/;user_id=drain", millis),
	}
	for _, c := range clients {
		c.waitSubmitted(t)
	}
	pids := append(b.enginePIDs(), b.metastorePID())
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// During the drain, a new session is refused.
	time.Sleep(200 * time.Millisecond)
	if _, stderr, err := beelineTry(b.thriftAddr, "late", "SELECT 1"); err == nil {
		t.Errorf("a new beeline session was served during the drain")
	} else if !strings.Contains(stderr, "Connection refused") && !strings.Contains(stderr, "shutting down") {
		t.Errorf("a new session during the drain failed unclearly:\n%s", tail(stderr, 10))
	}
	for _, c := range clients {
		out := c.wait(t)
		switch c.name {
		case "beeline":
			if !strings.Contains(out, "false,42") {
				t.Errorf("beeline's query cut off by SIGTERM; output:\n%s\n%s", out, tail(c.stderr.String(), 20))
			}
		default:
			if !strings.Contains(out, "[[false, 42]]") {
				t.Errorf("%s's query cut off by SIGTERM; output:\n%s\n%s", c.name, out, tail(c.stderr.String(), 20))
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bridge exited with %v after SIGTERM; log:\n%s", err, b.logTail(30))
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("bridge still running 90 s after SIGTERM; log:\n%s", b.logTail(30))
	}
	for _, pid := range pids {
		if pid != 0 && alive(pid) {
			t.Errorf("JVM %d still running after the bridge exited", pid)
		}
	}
	if strings.Contains(b.log(), "cutting off a session") {
		t.Errorf("the bridge cut off work within its grace period:\n%s", b.logTail(30))
	}
}

// drainClient is a client process whose output is watched for the moment its query is
// submitted.
type drainClient struct {
	name, marker   string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan error
}

func startDrainClient(t *testing.T, name, marker, bin string, args ...string) *drainClient {
	t.Helper()
	c := &drainClient{name: name, marker: marker, done: make(chan error, 1)}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = append(os.Environ(), "SPARK_HOME="+bridge.sparkHome)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	go func() { c.done <- c.cmd.Wait() }()
	return c
}

func (c *drainClient) waitSubmitted(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(c.stdout.String()+c.stderr.String(), c.marker) {
		select {
		case err := <-c.done:
			t.Fatalf("%s exited (%v) before submitting its query:\n%s\n%s", c.name, err, c.stdout.String(), tail(c.stderr.String(), 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not submit its query within 2 minutes", c.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *drainClient) wait(t *testing.T) string {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("%s failed: %v\n%s", c.name, err, tail(c.stderr.String(), 20))
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s still running 2 minutes after SIGTERM", c.name)
	}
	return c.stdout.String()
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
