package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServerClass is the main class of a Spark Connect server.
const ServerClass = "org.apache.spark.sql.connect.service.SparkConnectServer"

// PluginInterceptor is the Connect interceptor in the sparkbridge JVM jar that sets the
// session's user as Spark's current user for each request.
const PluginInterceptor = "dev.sparkbridge.engine.UserContextInterceptor"

// TokenInterceptor is the Connect interceptor in the sparkbridge JVM jar that refuses calls
// without the engine's secret: Spark 4 checks the secret itself, Spark 3.5 cannot.
const TokenInterceptor = "dev.sparkbridge.engine.TokenInterceptor"

// TokenEnv is the environment variable through which an engine receives its secret
// (spark.connect.authenticate.token); a secret on argv would be visible to every local user.
const TokenEnv = "SPARK_CONNECT_AUTHENTICATE_TOKEN"

// Spec says what to launch.
type Spec struct {
	// Name identifies the engine in logs and in the Spark application name.
	Name string
	// User is the identity the engine serves (and runs as, with proxy users on); empty for
	// an engine shared by everyone.
	User string
	// Conf holds extra Spark confs for this engine, applied over Config.SparkConf and the
	// profile's.
	Conf map[string]string
	// Profile names the Config.Profiles entry to launch with; empty for the default.
	Profile string
	// IdleTimeout is the engine's idle timeout (0: none). An engine the bridge does not run
	// as a child process stops itself after it (IdleStopPlugin).
	IdleTimeout time.Duration
}

// Process is a running engine: a Spark Connect endpoint plus, for launched engines, the
// process behind it.
type Process interface {
	// Addr is the host:port of the engine's Spark Connect server.
	Addr() string
	// Token is the bearer token the engine expects.
	Token() string
	// PID is the engine's process id, or 0 when the bridge did not launch it.
	PID() int
	// Done is closed when the process has exited.
	Done() <-chan struct{}
	// Stop ends the process: SIGTERM, then SIGKILL after the grace period. It waits for exit.
	Stop(ctx context.Context) error
}

// Launcher starts engines. Launch returns once the engine process is running and its port is
// known; the Manager then probes it for readiness.
type Launcher interface {
	Launch(ctx context.Context, spec Spec) (Process, error)
}

// SparkSubmit launches engines as local child processes with spark-submit.
type SparkSubmit struct {
	cfg Config
	// Registrar receives cluster-mode drivers' registrations; cmd/sparkbridge serves it.
	Registrar *Registrar
	// mu serialises port selection and process start, so that two launches of this bridge
	// never pick the same free port.
	mu sync.Mutex
}

var _ Launcher = (*SparkSubmit)(nil)

// NewSparkSubmit returns a launcher for cfg.
func NewSparkSubmit(cfg Config) *SparkSubmit { return &SparkSubmit{cfg: cfg} }

// bindFailure matches the engine's own report that its gRPC port was taken, so a launch that
// lost a port race is retried on another port.
var bindFailure = regexp.MustCompile(`(?i)(address already in use|failed to bind)`)

// Launch starts spark-submit and waits until the process has either exited or is running.
func (l *SparkSubmit) Launch(ctx context.Context, spec Spec) (Process, error) {
	home := l.cfg.SparkHome
	if spec.Profile != "" {
		prof, ok := l.cfg.Profiles[spec.Profile]
		if !ok {
			return nil, newError(KindInternal, nil, "engine profile %q is not defined", spec.Profile)
		}
		home = prof.SparkHome
	}
	submit := filepath.Join(home, "bin", "spark-submit")
	if _, err := os.Stat(submit); err != nil {
		return nil, newError(KindUnavailable, err, "spark-submit not found under %q (run 'make spark')", home)
	}
	if err := os.MkdirAll(l.cfg.LogDir, 0o755); err != nil {
		return nil, newError(KindUnavailable, err, "cannot create engine log directory")
	}
	if l.cfg.DeployMode == DeployCluster {
		return l.launchCluster(ctx, spec, home, submit)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := l.start(spec, home, submit)
		if err != nil {
			return nil, err
		}
		// A bind failure shows up as an early exit; anything else is the Manager's to probe.
		select {
		case <-p.done:
			if bindFailure.MatchString(p.logTail()) {
				lastErr = p.exitError()
				continue
			}
			return nil, p.exitError()
		case <-time.After(500 * time.Millisecond):
			return p, nil
		case <-ctx.Done():
			_ = p.Stop(context.Background())
			return nil, ctx.Err()
		}
	}
	return nil, lastErr
}

func (l *SparkSubmit) start(spec Spec, home, submit string) (*localProcess, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	port, err := freePort()
	if err != nil {
		return nil, newError(KindUnavailable, err, "no free loopback port for engine %s", spec.Name)
	}
	token, err := newToken()
	if err != nil {
		return nil, newError(KindInternal, err, "cannot generate engine secret")
	}
	conf := l.engineConf(spec, port)

	deployMode := ""
	if strings.HasPrefix(l.cfg.Master, "yarn") || strings.HasPrefix(l.cfg.Master, "k8s://") {
		deployMode = DeployClient
	}
	args := l.submitArgs(spec, deployMode, ServerClass, conf)

	logPath := filepath.Join(l.cfg.LogDir, fmt.Sprintf("%s-%s.log", spec.Name, time.Now().UTC().Format("20060102T150405.000")))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, newError(KindUnavailable, err, "cannot create engine log file")
	}

	cmd := exec.Command(submit, args...)
	// Files an engine writes into its working directory (derby.log, a default warehouse)
	// land beside its log, not wherever the bridge was started.
	cmd.Dir = l.cfg.LogDir
	// SPARK_HOME names the install to run: spark-submit prefers the variable to its own
	// location, and the bridge's environment may name another Spark (another profile's).
	cmd.Env = append(os.Environ(), TokenEnv+"="+token, "SPARK_LOCAL_IP=127.0.0.1", "SPARK_HOME="+home)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so Stop reaches every process spark-submit starts; Pdeathsig, so the
	// JVM dies with the bridge even when the bridge is killed without a chance to stop it.
	// A detached engine outlives the bridge instead: its own session, no parent-death signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if l.cfg.Detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, newError(KindUnavailable, err, "cannot start spark-submit")
	}
	// spark-submit execs the driver's JVM: this is the engine's process for good.
	started, _ := procStart(cmd.Process.Pid)
	p := &localProcess{
		started: started,
		cmd:     cmd,
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		token:   token,
		logPath: logPath,
		grace:   l.cfg.StopTimeout,
		done:    make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// engineConf is the --conf set of one launch: the config's defaults, then the spec's (user
// and session confs), then what the bridge owns: the catalog, the loopback binding on port,
// and no secret on argv.
func (l *SparkSubmit) engineConf(spec Spec, port int) map[string]string {
	conf := map[string]string{}
	for k, v := range l.cfg.SparkConf {
		conf[k] = v
	}
	for k, v := range l.cfg.MasterConf[MasterKind(l.cfg.Master)] {
		conf[k] = v
	}
	prof := l.cfg.Profiles[spec.Profile]
	for k, v := range prof.SparkConf {
		conf[k] = v
	}
	for k, v := range spec.Conf {
		conf[k] = v
	}
	for _, jar := range prof.Jars {
		conf["spark.jars"] = appendList(conf["spark.jars"], jar)
	}
	for k, v := range l.cfg.CatalogConf {
		conf[k] = v
	}
	if l.cfg.PluginJar != "" {
		jar := l.cfg.PluginJar
		if l.cfg.DeployMode == DeployCluster {
			jar = l.clusterJar()
		}
		conf["spark.jars"] = appendList(conf["spark.jars"], jar)
		conf["spark.connect.grpc.interceptor.classes"] = appendList(conf["spark.connect.grpc.interceptor.classes"], TokenInterceptor)
		conf["spark.connect.grpc.interceptor.classes"] = appendList(conf["spark.connect.grpc.interceptor.classes"], PluginInterceptor)
	}
	delete(conf, "spark.connect.authenticate.token")
	if spec.IdleTimeout > 0 && l.cfg.PluginJar != "" && (l.cfg.Detach || l.cfg.DeployMode == DeployCluster) {
		// The engine is no child of the bridge: it must stop itself when idle, even when no
		// bridge is left to stop it.
		conf["spark.plugins"] = appendList(conf["spark.plugins"], IdleStopPlugin)
		conf[idleTimeoutConf] = strconv.FormatInt(spec.IdleTimeout.Milliseconds(), 10)
	}
	if l.cfg.DeployMode == DeployCluster {
		// The driver runs where the cluster manager puts it: its host is the cluster's to
		// choose, and its Connect server takes any free port there and registers it. A
		// binding address set in the confs (a cluster network) is kept.
		conf["spark.connect.grpc.binding.port"] = "0"
		return conf
	}
	conf["spark.connect.grpc.binding.address"] = "127.0.0.1"
	conf["spark.connect.grpc.binding.port"] = strconv.Itoa(port)
	conf["spark.driver.host"] = "127.0.0.1"
	conf["spark.driver.bindAddress"] = "127.0.0.1"
	return conf
}

// appendList adds item to a comma-separated list unless it is there already.
func appendList(list, item string) string {
	if list == "" {
		return item
	}
	for _, v := range strings.Split(list, ",") {
		if strings.TrimSpace(v) == item {
			return list
		}
	}
	return list + "," + item
}

// localProcess is an engine JVM started by SparkSubmit.
type localProcess struct {
	cmd *exec.Cmd
	// started is the process's start time (procStart), which a detached engine's record keeps.
	started uint64
	addr    string
	token   string
	logPath string
	grace   time.Duration

	done    chan struct{}
	waitErr error // set before done is closed
}

func (p *localProcess) Addr() string          { return p.addr }
func (p *localProcess) Token() string         { return p.token }
func (p *localProcess) PID() int              { return p.cmd.Process.Pid }
func (p *localProcess) Done() <-chan struct{} { return p.done }

func (p *localProcess) Stop(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(p.grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
	return nil
}

// exitError describes an engine that exited, with the tail of its log.
func (p *localProcess) exitError() error {
	return newError(KindUnavailable, p.waitErr, "engine process exited during start (log %s):\n%s", p.logPath, p.logTail())
}

// logTail returns the last lines of the engine's log, for error messages.
func (p *localProcess) logTail() string {
	return tailFile(p.logPath, 4096, 20)
}

func tailFile(path string, maxBytes int64, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - maxBytes
	if off < 0 {
		off = 0
	}
	buf, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// MasterKind is the kind of a Spark master URL, as MasterConf keys it: local, spark
// (standalone), yarn, k8s, or the URL's scheme for anything else.
func MasterKind(master string) string {
	switch {
	case master == "" || strings.HasPrefix(master, "local"):
		return "local"
	case strings.HasPrefix(master, "spark://"):
		return "spark"
	case master == "yarn" || strings.HasPrefix(master, "yarn"):
		return "yarn"
	case strings.HasPrefix(master, "k8s://"):
		return "k8s"
	}
	scheme, _, _ := strings.Cut(master, ":")
	return scheme
}

// submitArgs is spark-submit's command line for spec: the master, deployMode (when not
// empty), the driver's memory and proxy user, the application name, mainClass and conf, in
// key order.
func (l *SparkSubmit) submitArgs(spec Spec, deployMode, mainClass string, conf map[string]string) []string {
	args := []string{"--master", l.cfg.Master}
	if deployMode != "" {
		args = append(args, "--deploy-mode", deployMode)
	}
	if l.cfg.DriverMemory != "" {
		args = append(args, "--driver-memory", l.cfg.DriverMemory)
	}
	if l.cfg.ProxyUser && spec.User != "" {
		args = append(args, "--proxy-user", spec.User)
	}
	args = append(args, "--name", "sparkbridge-"+spec.Name, "--class", mainClass)
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--conf", k+"="+conf[k])
	}
	return args
}
