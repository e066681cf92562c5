package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bridge is the sparkbridge process under test, shared by the package's tests.
var bridge *bridgeProc

// harness is the standalone Spark Connect server, also the bridge's static engine "harness".
var harness *sparkServer

// bridgeBin and workDir let a test start a bridge of its own.
var bridgeBin, workDir string

type bridgeProc struct {
	cmd         *exec.Cmd
	thriftAddr  string
	httpAddr    string
	connectAddr string
	adminAddr   string
	logPath     string
	sparkHome   string
	venv        string
}

func TestMain(m *testing.M) {
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "itest:", err)
		if bridge != nil {
			fmt.Fprintln(os.Stderr, "bridge log tail:\n"+bridge.logTail(60))
		}
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	sparkHome := os.Getenv("SPARK_HOME")
	venv := os.Getenv("SPARKBRIDGE_VENV")
	if sparkHome == "" || venv == "" {
		return 0, fmt.Errorf("SPARK_HOME and SPARKBRIDGE_VENV must be set; run the integration tests with 'make test'")
	}
	for _, p := range []string{filepath.Join(sparkHome, "bin", "spark-submit"), filepath.Join(sparkHome, "bin", "beeline"), filepath.Join(venv, "bin", "python")} {
		if _, err := os.Stat(p); err != nil {
			return 0, fmt.Errorf("required %s is missing (run 'make spark'): %w", p, err)
		}
	}
	work, err := os.MkdirTemp("", "sparkbridge-itest-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)

	bin := filepath.Join(work, "sparkbridge")
	build := exec.Command("go", "build", "-race", "-o", bin, "github.com/sparkbridge/sparkbridge/cmd/sparkbridge")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("building sparkbridge: %w", err)
	}

	// The bridge finds its JVM jar (metastore server, engine plugin) beside its binary.
	jar := exec.Command("../scripts/build-jvm.sh", filepath.Join(work, "sparkbridge-jvm.jar"))
	jar.Stdout, jar.Stderr = os.Stderr, os.Stderr
	if err := jar.Run(); err != nil {
		return 0, fmt.Errorf("building the sparkbridge JVM jar: %w", err)
	}

	spark, err := startSparkConnect(sparkHome, venv, work)
	if err != nil {
		return 0, err
	}
	harness = spark
	defer spark.stop()

	b, err := startBridge(bin, work, sparkHome, venv)
	if err != nil {
		return 0, err
	}
	bridge = b
	bridgeBin, workDir = bin, work
	code := m.Run()
	if stsStop != nil {
		stsStop()
	}
	pids := b.enginePIDs()
	ms := b.metastorePID()
	if err := b.stop(); err != nil {
		return 0, err
	}
	for _, pid := range pids {
		if alive(pid) {
			return 0, fmt.Errorf("engine JVM %d still running after the bridge stopped", pid)
		}
	}
	if ms == 0 {
		return 0, fmt.Errorf("the bridge ran no metastore: make run's default is a supervised one")
	}
	if alive(ms) {
		return 0, fmt.Errorf("metastore JVM %d still running after the bridge stopped", ms)
	}
	stopPostgres()
	stopKDC()
	stopLDAP()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "bridge log tail:\n"+b.logTail(80))
	}
	return code, nil
}

// spark35Profile is the engine profile of Spark 3.5 engines, as JSON: pyspark 3.5's Spark
// install (.venv-spark35), its Connect server jar (.cache/jars) and its Python for UDFs.
func spark35Profile() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	venv := filepath.Join(root, ".venv-spark35")
	home := filepath.Join(venv, "lib", "python3."+pythonMinor(venv), "site-packages", "pyspark")
	jar := filepath.Join(root, ".cache", "jars", "spark-connect_2.12-3.5.7.jar")
	for _, p := range []string{filepath.Join(home, "bin", "spark-submit"), jar} {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("the Spark 3.5 engine profile needs %s (run 'make clients'): %w", p, err)
		}
	}
	b, err := json.Marshal(map[string]any{"spark_home": home, "jars": []string{jar},
		"spark_conf": map[string]string{"spark.pyspark.python": filepath.Join(venv, "bin", "python")}})
	return string(b), err
}

// pythonMinor is the minor version of a venv's Python 3 (its lib/python3.N directory).
func pythonMinor(venv string) string {
	m, _ := filepath.Glob(filepath.Join(venv, "lib", "python3.*"))
	if len(m) == 0 {
		return "x"
	}
	return strings.TrimPrefix(filepath.Base(m[0]), "python3.")
}

func startBridge(bin, work, sparkHome, venv string) (*bridgeProc, error) {
	return startBridgeArgs(bin, work, sparkHome, venv, map[string]string{"static": "harness"})
}

// startBridgeArgs starts a bridge whose users in static are routed to the harness engine,
// with extra flags.
func startBridgeArgs(bin, work, sparkHome, venv string, static map[string]string, extra ...string) (*bridgeProc, error) {
	// Every bridge gets an admin port of its own: the default, 127.0.0.1:10019, is one per host.
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	tport, cport, hport, aport := ports[0], ports[1], ports[2], ports[3]
	b := &bridgeProc{
		httpAddr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(hport)),
		thriftAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(tport)),
		connectAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cport)),
		adminAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(aport)),
		logPath:     filepath.Join(work, "bridge.log"),
		sparkHome:   sparkHome,
		venv:        venv,
	}
	logFile, err := os.Create(b.logPath)
	if err != nil {
		return nil, err
	}
	// User "static" is routed to the harness's Spark Connect server, a static engine; user
	// "old" gets Spark 3.5 engines (the version matrix).
	config := filepath.Join(work, "sparkbridge.json")
	userEngines, _ := json.Marshal(static)
	spark35, err := spark35Profile()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`{"engine": {
		"static_engines": {"harness": {"addr": %q, "token": %q}},
		"user_engines": %s,
		"profiles": {"spark35": %s},
		"user_profiles": {"old": "spark35"}}}`, harness.addr(), harness.token, userEngines, spark35)), 0o600); err != nil {
		return nil, err
	}
	b.cmd = exec.Command(bin,
		"-config", config,
		"-spark-home", sparkHome,
		"-thrift-addr", b.thriftAddr,
		"-connect-addr", b.connectAddr,
		"-http-addr", b.httpAddr,
		"-admin-addr", b.adminAddr,
		"-engine-log-dir", filepath.Join(work, "engines"),
		// The catalog, as make run has it: a supervised metastore and the warehouse here.
		"-data-dir", filepath.Join(work, "data"),
		"-driver-memory", "1g",
		"-conf", "spark.sql.shuffle.partitions=2",
		"-conf", "spark.ui.enabled=false",
		"-allow-share-level-override",
	)
	// Engines run Python UDF workers with the venv's interpreter, as make run arranges.
	b.cmd.Env = append(os.Environ(), "PYSPARK_PYTHON="+filepath.Join(venv, "bin", "python"))
	b.cmd.Args = append(b.cmd.Args, extra...)
	b.cmd.Stdout, b.cmd.Stderr = logFile, logFile
	// The bridge dies with this test binary, and its engines die with it.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	logFile.Close()
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range []string{b.thriftAddr, b.connectAddr, b.httpAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				_ = b.cmd.Process.Kill()
				return b, fmt.Errorf("bridge did not listen on %s: %v", addr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return b, nil
}

// stop sends SIGTERM, as an operator would, and waits for a clean exit.
func (b *bridgeProc) stop() error {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("bridge exited with %v after SIGTERM", err)
		}
		return nil
	case <-time.After(60 * time.Second):
		_ = b.cmd.Process.Kill()
		return fmt.Errorf("bridge did not exit within 60s of SIGTERM")
	}
}

func (b *bridgeProc) logTail(n int) string {
	data, _ := os.ReadFile(b.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// log returns the bridge's log so far.
func (b *bridgeProc) log() string {
	data, _ := os.ReadFile(b.logPath)
	return string(data)
}

// enginePIDs lists the bridge's child processes that are Spark Connect servers.
func (b *bridgeProc) enginePIDs() []int {
	return enginePIDsOf(b.cmd.Process.Pid)
}

// metastorePID is the pid of the bridge's metastore JVM, or 0.
func (b *bridgeProc) metastorePID() int {
	if pids := childrenRunning(b.cmd.Process.Pid, "dev.sparkbridge.metastore.MetastoreServer"); len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// enginePIDsOf lists the child processes of parent that are Spark Connect servers.
func enginePIDsOf(parent int) []int {
	return childrenRunning(parent, "org.apache.spark.sql.connect.service.SparkConnectServer")
}

// childrenRunning lists the child processes of parent whose command line contains class.
func childrenRunning(parent int, class string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state, ppid, ...
		rest := stat[bytes.LastIndexByte(stat, ')')+2:]
		fields := strings.Fields(string(rest))
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(class)) {
			out = append(out, pid)
		}
	}
	return out
}

func alive(pid int) bool {
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
		return false
	}
	stat, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	return len(rest) > 0 && rest[0] != 'Z'
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n free loopback ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return ports, nil
}

// clientMu serialises the JVM- and Python-based clients: the machine has two cores and the
// engine needs one of them.
var clientMu sync.Mutex

// clientEnv holds extra environment for client processes (KEY=value).
var clientEnv []string

// runClient runs a client command and returns its stdout; a non-zero exit fails the test.
func runClient(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), "SPARK_HOME="+bridge.sparkHome), clientEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, tail(stdout.String(), 40), tail(stderr.String(), 40))
	}
	return stdout.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
