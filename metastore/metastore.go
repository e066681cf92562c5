package metastore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// ServerClass is the main class, in the sparkbridge JVM jar, that serves the metastore on
// one address.
const ServerClass = "dev.sparkbridge.metastore.MetastoreServer"

// Config says how to run the supervised metastore.
type Config struct {
	// SparkHome is the Spark installation whose jars/ holds the Hive metastore classes.
	SparkHome string
	// Jar is the sparkbridge JVM jar (make builds it as bin/sparkbridge-jvm.jar).
	Jar string
	// Java is the java binary; empty means $JAVA_HOME/bin/java, else java on PATH.
	Java string
	// DataDir holds the configuration, the log and, for Derby, the database. It must
	// persist: it is the catalog.
	DataDir string
	// Host and Port are where the metastore listens. Port 0 picks a free port at the first
	// start and keeps it across restarts.
	Host string
	Port int
	// WarehouseDir is the root of managed tables: a local path or a Hadoop URI (hdfs://,
	// s3a://). Empty means DataDir/../warehouse.
	WarehouseDir string
	// DBURL is the JDBC URL of the backing database; empty means embedded Derby under
	// DataDir. DBDriver is the JDBC driver class (derived from the URL when empty), DBUser
	// and DBPassword its credentials, and DriverJars extra jars (the JDBC driver).
	DBURL      string
	DBDriver   string
	DBUser     string
	DBPassword string
	DriverJars []string
	// Memory is the JVM's maximum heap (-Xmx), e.g. "512m".
	Memory string
	// ClientSocketTimeout bounds an engine's wait on one metastore call, so that a wedged
	// metastore fails queries instead of hanging them.
	ClientSocketTimeout time.Duration
	// StartTimeout bounds one start until the metastore accepts connections; StopTimeout is
	// the grace between SIGTERM and SIGKILL.
	StartTimeout time.Duration
	StopTimeout  time.Duration
	// RestartBackoff is the first wait before restarting a metastore that died; it doubles
	// up to MaxRestartBackoff.
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
}

// DefaultConfig returns the embedded default: Derby under var/metastore, loopback only.
func DefaultConfig() Config {
	return Config{
		DataDir:             "var/metastore",
		Host:                "127.0.0.1",
		Memory:              "512m",
		ClientSocketTimeout: 60 * time.Second,
		StartTimeout:        2 * time.Minute,
		StopTimeout:         15 * time.Second,
		RestartBackoff:      500 * time.Millisecond,
		MaxRestartBackoff:   30 * time.Second,
	}
}

// Service is a supervised metastore process.
type Service struct {
	cfg  Config
	log  *logrus.Entry
	addr string // host:port, fixed for the life of the Service

	mu       sync.Mutex // guards proc, stopping and restarts
	proc     *process
	stopping bool
	restarts int

	supervisor chan struct{} // closed when the supervising goroutine has returned
	// stopCtx is cancelled by Stop: a restart in its backoff or its start gives up at once.
	stopCtx    context.Context
	stopCancel context.CancelFunc
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// Start launches the metastore and returns once it accepts connections. The returned
// Service keeps it running until Stop.
func Start(ctx context.Context, cfg Config, log *logrus.Entry) (*Service, error) {
	if cfg.SparkHome == "" {
		return nil, errors.New("metastore: no Spark installation")
	}
	if _, err := os.Stat(cfg.Jar); err != nil {
		return nil, fmt.Errorf("metastore: the sparkbridge JVM jar is missing (run 'make build'): %w", err)
	}
	var err error
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "conf"), 0o700); err != nil {
		return nil, fmt.Errorf("metastore: data dir: %w", err)
	}
	if cfg.WarehouseDir == "" {
		cfg.WarehouseDir = filepath.Join(filepath.Dir(cfg.DataDir), "warehouse")
	}
	cfg.WarehouseDir = WarehouseURI(cfg.WarehouseDir)
	if cfg.Port == 0 {
		if cfg.Port, err = freePort(cfg.Host); err != nil {
			return nil, fmt.Errorf("metastore: no free port: %w", err)
		}
	}
	if err := writeSiteXML(filepath.Join(cfg.DataDir, "conf", "hive-site.xml"), cfg.siteProperties()); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:        cfg,
		log:        log.WithField("component", "metastore"),
		addr:       net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		supervisor: make(chan struct{}),
	}
	s.stopCtx, s.stopCancel = context.WithCancel(context.Background())
	p, err := s.startOnce(ctx)
	if err != nil {
		close(s.supervisor)
		return nil, err
	}
	s.proc = p
	go s.supervise()
	return s, nil
}

// URI is the metastore's Thrift URI, for hive.metastore.uris.
func (s *Service) URI() string { return "thrift://" + s.addr }

// Addr is host:port.
func (s *Service) Addr() string { return s.addr }

// WarehouseDir is the warehouse URI engines must use.
func (s *Service) WarehouseDir() string { return s.cfg.WarehouseDir }

// PID is the current metastore process id, or 0 when none runs.
func (s *Service) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	select {
	case <-s.proc.done:
		return 0
	default:
		return s.proc.cmd.Process.Pid
	}
}

// restartCount counts the restarts after an unexpected exit.
func (s *Service) restartCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// EngineConf returns the Spark confs that point an engine at this metastore.
func (s *Service) EngineConf() map[string]string {
	return EngineConf(s.URI(), s.cfg.WarehouseDir, s.cfg.ClientSocketTimeout)
}

// EngineConf returns the Spark confs that point an engine at the metastore at uris with
// the warehouse at warehouse (empty: the metastore's own setting).
func EngineConf(uris, warehouse string, socketTimeout time.Duration) map[string]string {
	conf := map[string]string{
		"spark.sql.catalogImplementation":  "hive",
		"spark.hadoop.hive.metastore.uris": uris,
		// One connection attempt per call, a second after a second: a dead metastore fails
		// the query within seconds, and the next query reconnects to a restarted one.
		"spark.hadoop.hive.metastore.failure.retries":            "1",
		"spark.hadoop.hive.metastore.client.connect.retry.delay": "1s",
	}
	if socketTimeout > 0 {
		conf["spark.hadoop.hive.metastore.client.socket.timeout"] = strconv.Itoa(int(socketTimeout/time.Second)) + "s"
	}
	if warehouse != "" {
		conf["spark.sql.warehouse.dir"] = WarehouseURI(warehouse)
	}
	return conf
}

// WarehouseURI turns a local path into an absolute file: URI and leaves URIs alone.
func WarehouseURI(dir string) string {
	if strings.Contains(dir, "://") || strings.HasPrefix(dir, "file:") {
		return dir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return "file:" + abs
}

// Stop ends the metastore and its supervision and waits for the process to exit.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	p := s.proc
	s.mu.Unlock()
	s.stopCancel()
	if p != nil {
		p.stop(ctx, s.cfg.StopTimeout)
	}
	<-s.supervisor
	s.log.Info("metastore stopped")
	return nil
}

// supervise restarts the metastore whenever it exits while the Service is not stopping.
func (s *Service) supervise() {
	defer close(s.supervisor)
	backoff := s.cfg.RestartBackoff
	for {
		s.mu.Lock()
		p := s.proc
		s.mu.Unlock()
		<-p.done
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		s.restarts++
		s.mu.Unlock()
		s.log.WithError(p.err).WithField("log", s.logPath()).Error("metastore exited; restarting it")
		for {
			select {
			case <-time.After(backoff):
			case <-s.stopCtx.Done():
				return
			}
			ctx, cancel := context.WithTimeout(s.stopCtx, s.cfg.StartTimeout)
			np, err := s.startOnce(ctx)
			cancel()
			if err == nil {
				s.mu.Lock()
				if s.stopping {
					s.mu.Unlock()
					np.stop(context.Background(), s.cfg.StopTimeout)
					return
				}
				s.proc = np
				s.mu.Unlock()
				backoff = s.cfg.RestartBackoff
				break
			}
			s.log.WithError(err).Error("metastore restart failed")
			if backoff *= 2; backoff > s.cfg.MaxRestartBackoff {
				backoff = s.cfg.MaxRestartBackoff
			}
		}
	}
}

func (s *Service) logPath() string { return filepath.Join(s.cfg.DataDir, "metastore.log") }

func (s *Service) javaBin() string {
	if s.cfg.Java != "" {
		return s.cfg.Java
	}
	if home := os.Getenv("JAVA_HOME"); home != "" {
		return filepath.Join(home, "bin", "java")
	}
	return "java"
}

// startOnce starts one metastore process and waits until it accepts connections.
func (s *Service) startOnce(ctx context.Context) (*process, error) {
	cp := []string{filepath.Join(s.cfg.DataDir, "conf"), s.cfg.Jar}
	cp = append(cp, s.cfg.DriverJars...)
	cp = append(cp, filepath.Join(s.cfg.SparkHome, "jars", "*"))
	args := []string{
		"-Xmx" + s.cfg.Memory,
		"-Dderby.system.home=" + s.cfg.DataDir,
		"-Dlog4j2.configurationFile=classpath:org/apache/spark/log4j2-defaults.properties",
		"-cp", strings.Join(cp, string(os.PathListSeparator)),
		ServerClass, s.cfg.Host, strconv.Itoa(s.cfg.Port),
	}
	logFile, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("metastore: log: %w", err)
	}
	fmt.Fprintf(logFile, "\n=== sparkbridge: starting metastore on %s at %s ===\n", s.addr, time.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(s.javaBin(), args...)
	cmd.Dir = s.cfg.DataDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("metastore: cannot start %s: %w", s.javaBin(), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
		}
		select {
		case <-p.done: // what answered, if anything, is not this process
			return nil, fmt.Errorf("metastore exited during start (%v); log %s:\n%s", p.err, s.logPath(), tailFile(s.logPath(), 25))
		default:
		}
		if err == nil {
			s.log.WithFields(logrus.Fields{"addr": s.addr, "pid": cmd.Process.Pid, "backend": s.backend(),
				"warehouse": s.cfg.WarehouseDir, "took": time.Since(start).Round(time.Millisecond)}).Info("metastore ready")
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("metastore exited during start (%v); log %s:\n%s", p.err, s.logPath(), tailFile(s.logPath(), 25))
		case <-ctx.Done():
			p.stop(context.Background(), s.cfg.StopTimeout)
			return nil, fmt.Errorf("metastore did not accept connections on %s: %w; log %s", s.addr, ctx.Err(), s.logPath())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Service) backend() string {
	if s.cfg.DBURL == "" {
		return "derby"
	}
	scheme, _, _ := strings.Cut(strings.TrimPrefix(s.cfg.DBURL, "jdbc:"), ":")
	return scheme
}

func (p *process) stop(ctx context.Context, grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// siteProperties is the metastore's hive-site.xml.
func (c Config) siteProperties() map[string]string {
	props := map[string]string{
		"hive.metastore.warehouse.dir": c.WarehouseDir,
		// The schema is created on first start, in Derby and in an empty PostgreSQL or
		// MySQL database alike.
		"datanucleus.schema.autoCreateAll":   "true",
		"hive.metastore.schema.verification": "false",
		// Hive's asynchronous logging needs a jar Spark does not ship.
		"hive.async.log.enabled": "false",
		// Hive's default pool, BoneCP, is not among Spark's jars: DataNucleus falls back, but
		// the transaction handler that drop_database loads does not, and its worker thread
		// dies with NoClassDefFoundError, so DROP DATABASE ... CASCADE failed. HikariCP is.
		"datanucleus.connectionPoolingType": "HikariCP",
	}
	if c.DBURL == "" {
		props["javax.jdo.option.ConnectionURL"] = "jdbc:derby:;databaseName=" + filepath.Join(c.DataDir, "metastore_db") + ";create=true"
		props["javax.jdo.option.ConnectionDriverName"] = "org.apache.derby.jdbc.EmbeddedDriver"
		return props
	}
	props["javax.jdo.option.ConnectionURL"] = c.DBURL
	props["javax.jdo.option.ConnectionDriverName"] = c.DBDriver
	if props["javax.jdo.option.ConnectionDriverName"] == "" {
		props["javax.jdo.option.ConnectionDriverName"] = DriverFor(c.DBURL)
	}
	if c.DBUser != "" {
		props["javax.jdo.option.ConnectionUserName"] = c.DBUser
	}
	if c.DBPassword != "" {
		props["javax.jdo.option.ConnectionPassword"] = c.DBPassword
	}
	return props
}

// DriverFor returns the usual JDBC driver class for a JDBC URL, or "".
func DriverFor(url string) string {
	switch {
	case strings.HasPrefix(url, "jdbc:postgresql:"):
		return "org.postgresql.Driver"
	case strings.HasPrefix(url, "jdbc:mysql:"):
		return "com.mysql.cj.jdbc.Driver"
	case strings.HasPrefix(url, "jdbc:mariadb:"):
		return "org.mariadb.jdbc.Driver"
	case strings.HasPrefix(url, "jdbc:derby:"):
		return "org.apache.derby.jdbc.EmbeddedDriver"
	}
	return ""
}

// writeSiteXML writes a Hadoop configuration file, readable by its owner only: it may hold
// the database password.
func writeSiteXML(path string, props map[string]string) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\"?>\n<!-- Written by sparkbridge at every start; edits are overwritten. -->\n<configuration>\n")
	for _, k := range keys {
		b.WriteString("  <property><name>")
		_ = xml.EscapeText(&b, []byte(k))
		b.WriteString("</name><value>")
		_ = xml.EscapeText(&b, []byte(props[k]))
		b.WriteString("</value></property>\n")
	}
	b.WriteString("</configuration>\n")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("metastore: %w", err)
	}
	return os.Rename(tmp, path)
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
