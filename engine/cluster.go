package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RegistrationPlugin is the JVM plugin that reports a cluster-mode engine's address.
const RegistrationPlugin = "dev.sparkbridge.engine.RegistrationPlugin"

// ClusterServerClass is the main class of a cluster-mode engine: it starts ServerClass,
// which spark-submit refuses as a cluster-mode main class outside YARN.
const ClusterServerClass = "dev.sparkbridge.engine.ConnectServerMain"

// LaunchTokenEnv carries a launch's one-time registration token to the driver. Spark's
// standalone submission passes SPARK_* variables on to the driver, never on a command line.
const LaunchTokenEnv = "SPARK_BRIDGE_LAUNCH_TOKEN"

// registerURLConf tells the plugin where to register.
const registerURLConf = "spark.sparkbridge.register.url"

// IdleStopPlugin is the JVM plugin that stops an engine idle for idleTimeoutConf ms.
const IdleStopPlugin = "dev.sparkbridge.engine.IdleStopPlugin"

const idleTimeoutConf = "spark.sparkbridge.idle.timeout"

// standaloneDriverID finds the driver id in spark-submit's report of a standalone cluster-mode
// submission ("Driver successfully submitted as driver-20261130211530-0000").
var standaloneDriverID = regexp.MustCompile(`\bdriver-\d{14}-\d{4}\b`)

// clusterProcess is an engine whose driver runs in the cluster (cluster deploy mode). The
// bridge knows it by what its driver registered, and stops it through the cluster manager.
type clusterProcess struct {
	addr     string
	token    string
	appID    string
	driverID string
	master   string
	home     string
	logPath  string

	done chan struct{}
	once sync.Once
}

var _ Process = (*clusterProcess)(nil)

func (p *clusterProcess) Addr() string  { return p.addr }
func (p *clusterProcess) Token() string { return p.token }

// PID is 0: the driver is not a process of this host.
func (p *clusterProcess) PID() int              { return 0 }
func (p *clusterProcess) Done() <-chan struct{} { return p.done }

// AppID is the engine's Spark application id.
func (p *clusterProcess) AppID() string { return p.appID }

// Stop asks the cluster manager to kill the driver, and counts the engine gone.
func (p *clusterProcess) Stop(ctx context.Context) error {
	defer p.once.Do(func() { close(p.done) })
	return killDriver(ctx, p.home, p.master, p.driverID, p.logPath)
}

// killDriver stops a cluster-mode driver through its cluster manager: for a standalone
// master, the standalone client's kill (which, unlike spark-submit --kill, needs no REST
// submission server).
func killDriver(ctx context.Context, home, master, driverID, logPath string) error {
	if driverID == "" {
		return newError(KindInternal, nil, "no driver id to kill on %s", master)
	}
	if !strings.HasPrefix(master, "spark://") {
		return newError(KindInternal, nil, "stopping a cluster-mode engine on %s is not supported", master)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(home, "bin", "spark-class"), "org.apache.spark.deploy.Client", "kill", master, driverID)
	cmd.Env = append(os.Environ(), "SPARK_HOME="+home)
	if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Run(); err != nil {
		return newError(KindUnavailable, err, "killing driver %s on %s", driverID, master)
	}
	return nil
}

// launchCluster submits an engine in cluster deploy mode and waits for its driver to
// register the address its Connect server listens on.
func (l *SparkSubmit) launchCluster(ctx context.Context, spec Spec, home, submit string) (Process, error) {
	if l.Registrar == nil || l.cfg.RegisterURL == "" {
		return nil, newError(KindInternal, nil, "cluster deploy mode needs the bridge's registration endpoint (-register-addr)")
	}
	if !strings.HasPrefix(l.cfg.Master, "spark://") {
		return nil, newError(KindInternal, nil, "cluster deploy mode is supported on spark:// (standalone) masters; %s is not one", l.cfg.Master)
	}
	token, err := newToken()
	if err != nil {
		return nil, newError(KindInternal, err, "cannot generate engine secret")
	}
	launchToken, err := newToken()
	if err != nil {
		return nil, newError(KindInternal, err, "cannot generate launch token")
	}
	registered, forget := l.Registrar.expect(launchToken)
	defer forget()

	conf := l.engineConf(spec, 0)
	conf["spark.plugins"] = appendList(conf["spark.plugins"], RegistrationPlugin)
	conf[registerURLConf] = l.cfg.RegisterURL
	if spec.IdleTimeout > 0 {
		// The driver is no child of the bridge: it must stop itself when idle, even when no
		// bridge is left to stop it.
		conf["spark.plugins"] = appendList(conf["spark.plugins"], IdleStopPlugin)
		conf[idleTimeoutConf] = strconv.FormatInt(spec.IdleTimeout.Milliseconds(), 10)
	}
	args := l.submitArgs(spec, DeployCluster, ClusterServerClass, conf)
	// The driver's primary resource is the bridge's JVM jar, which holds the main class; the
	// Spark Connect server itself ships in Spark's own jars, which every worker has.
	args = append(args, l.cfg.PluginJar)

	logPath := filepath.Join(l.cfg.LogDir, fmt.Sprintf("%s-%s.log", spec.Name, time.Now().UTC().Format("20060102T150405.000")))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, newError(KindUnavailable, err, "cannot create engine log file")
	}
	defer logFile.Close()
	cmd := exec.Command(submit, args...)
	cmd.Dir = l.cfg.LogDir
	// The secrets go through the environment: spark-submit hands SPARK_* variables to the
	// driver it submits.
	cmd.Env = append(os.Environ(), TokenEnv+"="+token, LaunchTokenEnv+"="+launchToken, "SPARK_HOME="+home)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, newError(KindUnavailable, err, "cannot start spark-submit")
	}
	submitted := make(chan error, 1)
	go func() {
		if err := cmd.Wait(); err != nil {
			submitted <- newError(KindUnavailable, err, "spark-submit failed (log %s):\n%s", logPath, fileTail(logPath, 20))
		}
	}()
	reg, err := waitRegistration(ctx, registered, submitted)
	driverID := standaloneDriverID.FindString(fileTail(logPath, 200))
	if err != nil {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		if driverID != "" {
			kctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = killDriver(kctx, home, l.cfg.Master, driverID, logPath)
			cancel()
		}
		return nil, err
	}
	return &clusterProcess{addr: reg.Addr(), token: token, appID: reg.AppID, driverID: driverID, master: l.cfg.Master, home: home,
		logPath: logPath, done: make(chan struct{})}, nil
}

// fileTail returns the last n lines of the file at path.
func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
