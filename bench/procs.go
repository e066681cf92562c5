package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process in its own process group, killed with the bench if need be.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProc(name, dir, logPath string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the group, then SIGKILL after 30 s.
func (p *proc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// waitListen waits until addr accepts TCP connections or the process exits.
func (p *proc) waitListen(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start; see %s:\n%s", p.name, p.log, tailOf(p.log))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within %s; see %s", p.name, addr, timeout, p.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tailOf(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return strings.Join(lines, "\n")
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startEngine starts a Spark Connect server on loopback with its token in the environment.
func startEngine(cfg *config, tok string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir := filepath.Join(cfg.out, "engine")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	args := append(sparkArgs(cfg, dir),
		"--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
		"--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.connect.grpc.binding.port="+port)
	p, err := startProc("Spark Connect engine", dir, filepath.Join(dir, "engine.log"),
		[]string{"SPARK_CONNECT_AUTHENTICATE_TOKEN=" + tok, "SPARK_LOCAL_IP=127.0.0.1", "PYSPARK_PYTHON=" + cfg.python()},
		filepath.Join(cfg.sparkHome, "bin", "spark-submit"), args...)
	if err != nil {
		return nil, "", err
	}
	return p, addr, p.waitListen(addr, 3*time.Minute)
}

// startSTS starts Spark Thrift Server from the same install, with the same master and memory.
func startSTS(cfg *config) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir := filepath.Join(cfg.out, "sts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	args := append(sparkArgs(cfg, dir),
		"--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
		"--hiveconf", "hive.server2.thrift.port="+port, "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
		"spark-internal")
	p, err := startProc("Spark Thrift Server", dir, filepath.Join(dir, "sts.log"), []string{"SPARK_LOCAL_IP=127.0.0.1"},
		filepath.Join(cfg.sparkHome, "bin", "spark-submit"), args...)
	if err != nil {
		return nil, "", err
	}
	return p, addr, p.waitListen(addr, 3*time.Minute)
}

// sparkArgs are the settings both servers share, so that they differ only in their frontend.
func sparkArgs(cfg *config, dir string) []string {
	return []string{"--master", cfg.master, "--driver-memory", cfg.driverMemory,
		"--conf", "spark.ui.enabled=false",
		"--conf", "spark.driver.maxResultSize=0",
		"--conf", "spark.sql.warehouse.dir=" + filepath.Join(dir, "warehouse"),
		"--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1"}
}

// startBridge starts the measured bridge as production runs it: metrics on (the default,
// /metrics on its admin port) and the audit log in its directory, which starts empty.
func startBridge(cfg *config, engineAddr, tok string) (*bridgeProc, error) {
	auditLog := filepath.Join(cfg.out, "bridge", "audit.log")
	if err := os.Remove(auditLog); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	br, err := startBridgeIn(cfg, "bridge", engineAddr, tok, "-audit-log", auditLog)
	if br != nil {
		br.auditLog = auditLog
	}
	return br, err
}

// startBareBridge starts a bridge without metrics or audit log, on the same engine: what
// the measured bridge's observers are compared against (G9).
func startBareBridge(cfg *config, engineAddr, tok string) (*bridgeProc, error) {
	return startBridgeIn(cfg, "bridge-bare", engineAddr, tok, "-metrics=false")
}

// startBridgeIn starts the sparkbridge binary in cfg.out/name with the engine as a static
// endpoint for user "bench", the admin port (pprof, /metrics) on a loopback port, and extra
// flags. The engine is static, so no measurement uses the bridge's catalog: -catalog
// in-memory spares the two cores the idle JVM of a supervised metastore per bridge.
func startBridgeIn(cfg *config, name, engineAddr, tok string, extra ...string) (*bridgeProc, error) {
	dir := filepath.Join(cfg.out, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	conf := fmt.Sprintf(`{"engine": {"static_engines": {"bench": {"addr": %q, "token": %q}}, "user_engines": {"bench": "bench"}}}`, engineAddr, tok)
	confPath := filepath.Join(dir, "bridge.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	args := append([]string{"-spark-home", cfg.sparkHome, "-config", confPath,
		"-thrift-addr", addrs[0], "-http-addr", "", "-connect-addr", addrs[1], "-admin-addr", addrs[2],
		"-engine-log-dir", filepath.Join(dir, "engines"), "-catalog", "in-memory", "-log-level", "warn"}, extra...)
	p, err := startProc(name, dir, filepath.Join(dir, "bridge.log"), []string{"PYSPARK_PYTHON=" + cfg.python()}, cfg.bridgeBin, args...)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := p.waitListen(a, 30*time.Second); err != nil {
			p.stop()
			return nil, err
		}
	}
	return &bridgeProc{proc: p, thrift: addrs[0], connect: addrs[1], debug: addrs[2]}, nil
}

type bridgeProc struct {
	*proc
	// debug is the admin port: pprof, and /metrics unless -metrics=false.
	thrift, connect, debug string
	// auditLog is the audit log file; empty when off.
	auditLog string
}

// memStat reads the process's current and peak resident set, in bytes.
func memStat(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// resetPeak resets the process's VmHWM to its current RSS (Linux clear_refs 5).
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o200)
}

// profileCPU records a CPU profile of the bridge while f runs.
func profileCPU(ctx context.Context, debugAddr, path string, seconds int, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		errc <- httpGetToFile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, seconds), path)
	}()
	time.Sleep(200 * time.Millisecond)
	ferr := f()
	if err := <-errc; err != nil {
		return err
	}
	return ferr
}
