package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
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

// secretsFileConf names, for a YARN cluster-mode driver, the file (in its working
// directory, where YARN puts --files) that holds its secrets; SecretsFile is that name.
const secretsFileConf = "spark.sparkbridge.secrets.file"

// SecretsFile is the name a YARN cluster-mode driver finds its secrets file under.
const SecretsFile = "sparkbridge-secrets.properties"

// clusterProcess is an engine whose driver the bridge does not run as its child: a
// cluster-mode driver, or a detached engine adopted from a previous bridge. The bridge knows
// it by what its driver registered, and stops it through the cluster manager.
type clusterProcess struct {
	addr     string
	token    string
	appID    string
	driverID string
	master   string
	home     string
	logPath  string
	cm       clusterManager

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

func (p *clusterProcess) ref() driverRef { return driverRef{DriverID: p.driverID, AppID: p.appID} }

// Stop asks the cluster manager to kill the driver, and counts the engine gone.
func (p *clusterProcess) Stop(ctx context.Context) error {
	defer p.once.Do(func() { close(p.done) })
	if p.cm == nil {
		return newError(KindInternal, nil, "no cluster manager to stop a driver on %s", p.master)
	}
	var log *os.File
	if f, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		defer f.Close()
		log = f
	}
	if err := p.cm.kill(ctx, p.ref(), log); err != nil {
		return newError(KindUnavailable, err, "killing driver %s on %s", orDefault(p.driverID, p.appID), p.master)
	}
	return nil
}

// clusterSubmission is how one cluster-mode launch reaches its master: the environment and
// extra spark-submit arguments that carry the driver's secrets, the confs that go with them,
// and the driver id when the bridge names the driver itself.
type clusterSubmission struct {
	env      []string
	args     []string
	conf     map[string]string
	driverID string
	// cleanup removes what the submission left on the bridge's host (a secrets file).
	cleanup func()
}

// prepareSubmission delivers a cluster-mode driver's secrets without putting them on a
// command line:
//   - standalone: in the environment; spark-submit hands SPARK_* variables to the driver.
//   - YARN: in a file of mode 0600 shipped with --files, which YARN puts in the driver's
//     working directory (the staging directory it passes through is the user's own, 0700);
//     the local file is removed once the launch ends.
//   - Kubernetes: in a Kubernetes secret the bridge creates from a 0600 file with kubectl,
//     which the driver pod reads into its environment (secretKeyRef); the secret is deleted
//     with the driver.
func (l *SparkSubmit) prepareSubmission(ctx context.Context, spec Spec, secrets map[string]string) (clusterSubmission, error) {
	sub := clusterSubmission{conf: map[string]string{}, cleanup: func() {}}
	switch MasterKind(l.cfg.Master) {
	case "spark":
		for _, k := range sortedKeys(secrets) {
			sub.env = append(sub.env, k+"="+secrets[k])
		}
	case "yarn":
		path, err := writeSecrets(l.cfg.LogDir, secrets)
		if err != nil {
			return sub, newError(KindUnavailable, err, "cannot write the engine's secrets file")
		}
		sub.cleanup = func() { os.Remove(path) }
		sub.args = []string{"--files", path + "#" + SecretsFile}
		sub.conf[secretsFileConf] = SecretsFile
		// spark-submit returns once YARN has accepted the application.
		sub.conf["spark.yarn.submit.waitAppCompletion"] = "false"
	case "k8s":
		ns := l.engineConf(spec, 0)["spark.kubernetes.namespace"]
		if ns == "" {
			ns = "default"
		}
		suffix, err := newToken()
		if err != nil {
			return sub, newError(KindInternal, err, "cannot name the driver pod")
		}
		pod := k8sName("sparkbridge-"+spec.Name, 48) + "-" + suffix[:6]
		secret := k8sSecretName(pod)
		path, err := writeSecrets(l.cfg.LogDir, secrets)
		if err != nil {
			return sub, newError(KindUnavailable, err, "cannot write the engine's secrets file")
		}
		err = runLogged(ctx, nil, nil, orDefault(l.cfg.Kubectl, "kubectl"), "create", "secret", "generic", secret, "-n", ns, "--from-env-file="+path)
		os.Remove(path)
		if err != nil {
			return sub, newError(KindUnavailable, err, "cannot create the Kubernetes secret for the engine")
		}
		// The secret lives as long as the driver: killing the driver (a failed launch's
		// included) deletes it.
		for _, k := range sortedKeys(secrets) {
			sub.conf["spark.kubernetes.driver.secretKeyRef."+k] = secret + ":" + k
		}
		sub.conf["spark.kubernetes.driver.pod.name"] = pod
		sub.conf["spark.kubernetes.submission.waitAppCompletion"] = "false"
		sub.driverID = ns + ":" + pod
	default:
		return sub, newError(KindInternal, nil, "cluster deploy mode needs a spark://, yarn or k8s:// master; %s is none", l.cfg.Master)
	}
	return sub, nil
}

// writeSecrets writes secrets as KEY=VALUE lines (a Java properties file, and a kubectl env
// file) to a new file of mode 0600 in dir.
func writeSecrets(dir string, secrets map[string]string) (string, error) {
	f, err := os.CreateTemp(dir, ".engine-secrets-*")
	if err != nil {
		return "", err
	}
	for _, k := range sortedKeys(secrets) {
		fmt.Fprintf(f, "%s=%s\n", k, secrets[k])
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// launchCluster submits an engine in cluster deploy mode and waits for its driver to
// register the address its Connect server listens on.
func (l *SparkSubmit) launchCluster(ctx context.Context, spec Spec, home, submit string) (Process, error) {
	if l.Registrar == nil || l.cfg.RegisterURL == "" {
		return nil, newError(KindInternal, nil, "cluster deploy mode needs the bridge's registration endpoint (-register-addr)")
	}
	cm := newClusterManager(l.cfg, home, l.cfg.Master)
	if cm == nil {
		return nil, newError(KindInternal, nil, "cluster deploy mode needs a spark://, yarn or k8s:// master; %s is none", l.cfg.Master)
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

	sub, err := l.prepareSubmission(ctx, spec, map[string]string{TokenEnv: token, LaunchTokenEnv: launchToken})
	if err != nil {
		return nil, err
	}
	defer sub.cleanup()

	conf := l.engineConf(spec, 0)
	for k, v := range sub.conf {
		conf[k] = v
	}
	conf["spark.plugins"] = appendList(conf["spark.plugins"], RegistrationPlugin)
	conf[registerURLConf] = l.cfg.RegisterURL
	args := l.submitArgs(spec, DeployCluster, ClusterServerClass, conf)
	// The driver's primary resource is the bridge's JVM jar, which holds the main class; the
	// Spark Connect server itself ships in Spark's own jars, which every worker has.
	args = append(args, sub.args...)
	args = append(args, l.clusterJar())

	logPath := filepath.Join(l.cfg.LogDir, fmt.Sprintf("%s-%s.log", spec.Name, time.Now().UTC().Format("20060102T150405.000")))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, newError(KindUnavailable, err, "cannot create engine log file")
	}
	defer logFile.Close()
	cmd := exec.Command(submit, args...)
	cmd.Dir = l.cfg.LogDir
	cmd.Env = append(append(os.Environ(), sub.env...), "SPARK_HOME="+home)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, newError(KindUnavailable, err, "cannot start spark-submit")
	}
	submitted := make(chan error, 1)
	go func() {
		if err := cmd.Wait(); err != nil {
			submitted <- newError(KindUnavailable, err, "spark-submit failed (log %s):\n%s", logPath, tailFile(logPath, 64<<10, 20))
		}
	}()
	reg, err := waitRegistration(ctx, registered, submitted)
	driverID := sub.driverID
	switch MasterKind(l.cfg.Master) {
	case "spark":
		driverID = standaloneDriverID.FindString(tailFile(logPath, 64<<10, 200))
	case "yarn":
		driverID = reg.AppID
	}
	proc := &clusterProcess{addr: reg.Addr(), token: token, appID: reg.AppID, driverID: driverID, master: l.cfg.Master, home: home,
		logPath: logPath, cm: cm, done: make(chan struct{})}
	if err != nil {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		if driverID != "" {
			kctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = proc.Stop(kctx)
			cancel()
		}
		return nil, err
	}
	return proc, nil
}

// clusterJar is the bridge's JVM jar as a cluster-mode driver reaches it.
func (l *SparkSubmit) clusterJar() string {
	return orDefault(l.cfg.EngineJarURI, l.cfg.PluginJar)
}
