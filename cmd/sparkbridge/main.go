// Command sparkbridge serves HiveServer2 and Spark Connect clients from per-user Spark engines.
//
// It is the only place that reads flags and the environment; every package below takes a
// Config.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/grpclog"

	"github.com/sparkbridge/sparkbridge/admin"
	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/connectfront"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/metastore"
	"github.com/sparkbridge/sparkbridge/metrics"
	"github.com/sparkbridge/sparkbridge/thriftfront"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type confFlag map[string]string

func (c confFlag) String() string { return fmt.Sprint(map[string]string(c)) }
func (c confFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	c[k] = val
	return nil
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "admin":
			if err := adminTool(os.Args[2:], os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, "sparkbridge admin:", err)
				os.Exit(2)
			}
			return
		case "hash-password", "new-token":
			if err := credentialTool(os.Args[1], os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "sparkbridge:", err)
				os.Exit(2)
			}
			return
		}
	}
	if err := run(); err != nil {
		logrus.WithError(err).Error("sparkbridge failed")
		os.Exit(1)
	}
}

func run() error {
	ecfg := engine.DefaultConfig()
	ecfg.Dial = engine.DialWith(transport.Dial)
	tcfg := thriftfront.DefaultConfig()
	ccfg := connectfront.DefaultConfig()
	mcfg := metastore.DefaultConfig()
	cliConf := confFlag{} // -conf values: they win over the config file's spark_conf
	driverJars := &listFlag{}

	configPath := flag.String("config", "", "JSON config file (see README); flags win over it")
	thriftAddr := flag.String("thrift-addr", ":10000", "HiveServer2 binary transport (SASL PLAIN and NOSASL) listen address")
	httpAddr := flag.String("http-addr", ":10001", "HiveServer2 HTTP transport listen address (empty: off)")
	httpPath := flag.String("http-path", "/cliservice", "HiveServer2 HTTP transport path")
	connectAddr := flag.String("connect-addr", ":15002", "Spark Connect gRPC listen address")
	flag.StringVar(&ecfg.SparkHome, "spark-home", os.Getenv("SPARK_HOME"), "Spark installation used to launch engines (default $SPARK_HOME)")
	flag.StringVar(&ecfg.Master, "master", ecfg.Master, "Spark master for launched engines")
	flag.StringVar(&ecfg.DeployMode, "deploy-mode", ecfg.DeployMode, "deploy mode of launched engines: client (the driver runs beside the bridge) or cluster (a spark://, yarn or k8s:// master runs it; it registers its address)")
	registerAddr := flag.String("register-addr", "127.0.0.1:0", "in cluster deploy mode, where engines' drivers register their address (HTTP)")
	detach := flag.String("engine-detach", "auto", "leave engines running when the bridge stops, and adopt them at the next start (auto: on with a cluster master, off with a local one; true; false)")
	flag.StringVar(&ecfg.MasterUI, "master-ui-url", "", "a standalone Master's web UI, where the bridge reads the Master's view of each engine (default: http://MASTER-HOST:8080)")
	flag.StringVar(&ecfg.YarnCommand, "yarn-cmd", "yarn", "the yarn command line, which kills YARN engines and reports their state")
	flag.StringVar(&ecfg.Kubectl, "kubectl", "kubectl", "the kubectl command line, which keeps Kubernetes drivers' secrets in a Kubernetes secret and reports their pods' state")
	flag.StringVar(&ecfg.EngineJarURI, "engine-jar-uri", "", "the sparkbridge JVM jar as cluster-mode drivers reach it: hdfs://, s3a://, https:// or local:// in a Kubernetes image (default: -jvm-jar's path, which must then exist on every node)")
	flag.StringVar(&ecfg.RegisterURL, "register-url", "", "in cluster deploy mode, the registration URL as drivers reach it (default: http://REGISTER-ADDR/engines/register)")
	flag.StringVar(&ecfg.DriverMemory, "driver-memory", ecfg.DriverMemory, "engine driver memory")
	flag.StringVar(&ecfg.LogDir, "engine-log-dir", ecfg.LogDir, "directory for per-engine log files")
	flag.DurationVar(&ecfg.StartTimeout, "engine-start-timeout", ecfg.StartTimeout, "how long an engine may take to become ready")
	flag.Var(cliConf, "conf", "Spark conf key=value for every engine (repeatable)")
	shareLevel := flag.String("share-level", string(ecfg.ShareLevel), "which sessions share an engine: CONNECTION, USER, GROUP or SERVER")
	flag.BoolVar(&ecfg.AllowShareLevelOverride, "allow-share-level-override", false, "let sessions choose their share level with "+engine.ConfShareLevel)
	flag.DurationVar(&ecfg.IdleTimeout, "engine-idle-timeout", ecfg.IdleTimeout, "stop an engine with no sessions after this long (0: never)")
	flag.DurationVar(&ecfg.MaxLifetime, "engine-max-lifetime", 0, "drain an engine after this long (0: never)")
	flag.DurationVar(&ecfg.LivenessInterval, "engine-liveness-interval", ecfg.LivenessInterval, "probe each running engine this often; three failures in a row count as a crash (0: no probes)")
	flag.BoolVar(&ecfg.ProxyUser, "proxy-user", false, "launch engines with --proxy-user set to the user they serve")
	gcfg := auth.DefaultGuardConfig()
	flag.DurationVar(&gcfg.BackoffMax, "auth-backoff-max", gcfg.BackoffMax, "longest wait imposed on a client address after repeated failed logins (it doubles from 100ms)")
	flag.IntVar(&gcfg.Workers, "auth-workers", gcfg.Workers, "password verifications run at once; more attempts queue")
	authMode := flag.String("auth", "NONE", "authentication: NONE (trust every client), FILE (users file), LDAP (-ldap-*), KERBEROS (keytab) or JWT (OIDC bearer tokens, -jwt-*), or several modes comma-separated, tried in order (KERBEROS,LDAP)")
	usersFile := flag.String("users-file", "", "users file for -auth FILE (see README)")
	ldapOpts := ldapFlags(flag.CommandLine)
	jwtOpts := jwtFlags(flag.CommandLine)
	krbKeytab := flag.String("kerberos-keytab", "", "service keytab for -auth KERBEROS (SASL GSSAPI on the binary transport, SPNEGO on HTTP)")
	krbPrincipal := flag.String("kerberos-principal", "", "service principal for -auth KERBEROS, such as hive/_HOST@EXAMPLE.COM (_HOST: this host's name, lower case)")
	krbRules := flag.String("kerberos-auth-to-local", "DEFAULT", "rules mapping Kerberos principals to user names, Hadoop auth_to_local style: DEFAULT and RULE:[n:format](filter)s/pattern/replacement/ (see README)")
	proxyAllow := flag.String("proxy-user-allow", "", "who may act for whom with hive.server2.proxy.user or a SASL authorization id: \"svc-bi=alice,bob;etl=*\" (empty: nobody)")
	admCfg := auth.AdmissionConfig{}
	flag.IntVar(&admCfg.MaxPerUser, "max-connections-per-user", 0, "connections one user may hold, over both protocols and every address: HS2 binary connections, HS2 HTTP sessions and Spark Connect gRPC connections (0: no limit)")
	flag.IntVar(&admCfg.MaxPerAddress, "max-connections-per-address", 0, "connections one client IP may hold, counted as for -max-connections-per-user (0: no limit)")
	flag.IntVar(&admCfg.MaxPerUserAddress, "max-connections-per-user-address", 0, "connections one user may hold from one client IP (0: no limit)")
	denyUsers := flag.String("deny-users", "", "comma-separated users refused right after authentication, on every protocol")
	denyAddrs := flag.String("deny-addresses", "", "comma-separated client IPs and CIDR prefixes (10.0.0.0/8) refused before any credential check, on every protocol")
	tlsCert := flag.String("connect-tls-cert", "", "PEM certificate for TLS on the Spark Connect port")
	tlsKey := flag.String("connect-tls-key", "", "PEM private key for TLS on the Spark Connect port")
	hs2Cert := flag.String("thrift-tls-cert", "", "PEM certificate for TLS on both HiveServer2 transports")
	hs2Key := flag.String("thrift-tls-key", "", "PEM private key for TLS on both HiveServer2 transports")
	maxMsg := flag.Int("max-message-size", ccfg.MaxMessageSize, "largest Spark Connect message, in bytes, each way (client and engine)")
	protect := &listFlag{}
	flag.Var(protect, "protect-conf", "Spark conf key or pattern clients can neither read nor change, besides the defaults (repeatable)")
	catalogMode := flag.String("catalog", "hive", "catalog of launched engines: hive (one persistent metastore shared by every engine) or in-memory (Spark's default: tables die with their engine)")
	dataDir := flag.String("data-dir", "var", "directory for the bridge's persistent state: the supervised metastore's database and the default warehouse")
	metastoreURIs := flag.String("metastore-uris", "", "use this existing Hive Metastore (thrift://host:9083[,...]) instead of supervising one")
	warehouseDir := flag.String("warehouse-dir", "", "warehouse directory of managed tables, a path or hdfs://, s3a:// URI (default DATA-DIR/warehouse)")
	flag.StringVar(&mcfg.DBURL, "metastore-db-url", "", "JDBC URL of the supervised metastore's database (default: embedded Derby under DATA-DIR/metastore)")
	flag.StringVar(&mcfg.DBUser, "metastore-db-user", "", "user for -metastore-db-url")
	dbPasswordFile := flag.String("metastore-db-password-file", "", "file holding the password for -metastore-db-url (or set $SPARKBRIDGE_METASTORE_DB_PASSWORD)")
	flag.Var(driverJars, "metastore-driver-jar", "JDBC driver jar for -metastore-db-url (repeatable)")
	flag.IntVar(&mcfg.Port, "metastore-port", 0, "loopback port of the supervised metastore (0: a free port)")
	jvmJar := flag.String("jvm-jar", "", "the sparkbridge JVM jar (default: sparkbridge-jvm.jar beside this binary)")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn, error")
	acfg := admin.DefaultConfig()
	adminAddr := flag.String("admin-addr", admin.DefaultAddr, "admin API, web console, /healthz, /readyz, /metrics and pprof listen address (empty: off); off loopback it needs -admin-tls-cert and -admins")
	adminCert := flag.String("admin-tls-cert", "", "PEM certificate for TLS on the admin port (default: the -thrift-tls-cert, else the -connect-tls-cert)")
	adminKey := flag.String("admin-tls-key", "", "PEM private key for TLS on the admin port (default: the -thrift-tls-key, else the -connect-tls-key)")
	admins := flag.String("admins", "", "comma-separated users allowed into the admin API with HTTP Basic credentials checked by -auth (empty: nobody, unless the admin address is loopback, where it is then open)")
	flag.DurationVar(&acfg.EngineDrainGrace, "admin-engine-grace", acfg.EngineDrainGrace, "how long an engine drained through the admin API keeps serving its sessions before it stops (a request's ?grace= wins)")
	debugAddr := flag.String("debug-addr", "", "deprecated: pprof is served on the admin port (-admin-addr) at /debug/pprof/; this sets -admin-addr when that is not given")
	auditLog := flag.String("audit-log", "", "append a JSON line per session, operation and admin action to this file (mode 0600; empty: off)")
	metricsOn := flag.Bool("metrics", true, "count sessions, operations and calls and serve them as Prometheus metrics at /metrics on the admin port (false: no metrics observer is installed, and /metrics is not served)")
	metricsUserLabels := flag.Bool("metrics-user-labels", false, "label session and operation metrics with the user (one series per user: mind the cardinality)")
	httpMaxConns := flag.Int("http-max-connections", 4096, "open connections the HiveServer2 HTTP port accepts; more get 503 (0: no limit)")
	connectMaxConns := flag.Int("connect-max-connections", 4096, "open connections the Spark Connect port accepts; more are closed at once (0: no limit)")
	flag.IntVar(&tcfg.MaxFrameSize, "thrift-max-message-size", tcfg.MaxFrameSize, "largest HiveServer2 request (SASL frame or HTTP body) in bytes; what one connection can make the bridge allocate while decoding is bounded by what it really sent, and never exceeds this")
	flag.DurationVar(&tcfg.LongPollingTimeout, "long-polling-timeout", tcfg.LongPollingTimeout, "how long a HiveServer2 GetOperationStatus call waits for a running statement to end before answering, as hive.server2.long.polling.timeout (which a session may set when it opens); 0 answers at once")
	flag.IntVar(&tcfg.MaxConnections, "thrift-max-connections", tcfg.MaxConnections, "open connections the HiveServer2 binary port accepts before refusing new ones (0: no limit)")
	grace := flag.Duration("shutdown-grace", 10*time.Second, "how long in-flight calls get to finish at shutdown")
	flag.Parse()

	// The config file applies under the flags: remember the flags given, apply the file, then
	// set those flags again.
	if *configPath != "" {
		given := map[string]string{}
		flag.Visit(func(f *flag.Flag) {
			// List flags accumulate: the file's entries and the command line's both count.
			if f.Name != "config" && f.Name != "conf" && f.Name != "protect-conf" && f.Name != "metastore-driver-jar" {
				given[f.Name] = f.Value.String()
			}
		})
		fc, err := loadConfigFile(*configPath)
		if err != nil {
			return err
		}
		if err := fc.Engine.apply(&ecfg); err != nil {
			return fmt.Errorf("config file %s: %w", *configPath, err)
		}
		if fc.ThriftAddr != "" {
			*thriftAddr = fc.ThriftAddr
		}
		if fc.ConnectAddr != "" {
			*connectAddr = fc.ConnectAddr
		}
		fc.Admin.apply(adminAddr, adminCert, adminKey, admins, &acfg.EngineDrainGrace)
		fc.Kerberos.apply(krbKeytab, krbPrincipal, krbRules)
		if fc.ProxyUserAllow != nil {
			*proxyAllow = proxyUserAllow(fc.ProxyUserAllow)
		}
		fc.Limits.apply(&admCfg, denyUsers, denyAddrs)
		if fc.AuditLog != "" {
			*auditLog = fc.AuditLog
		}
		if fc.Metrics != nil {
			*metricsOn = *fc.Metrics
		}
		if fc.MetricsUserLabels != nil {
			*metricsUserLabels = *fc.MetricsUserLabels
		}
		if fc.Engine.ShareLevel != "" {
			*shareLevel = string(ecfg.ShareLevel)
		}
		if fc.Engine.Detach != "" {
			*detach = fc.Engine.Detach
		}
		fc.Catalog.apply(catalogMode, dataDir, metastoreURIs, warehouseDir, &mcfg, driverJars, dbPasswordFile)
		fc.LDAP.apply(ldapOpts)
		fc.JWT.apply(jwtOpts)
		for name, v := range given {
			if err := flag.Set(name, v); err != nil {
				return err
			}
		}
	}
	for k, v := range cliConf {
		ecfg.SparkConf[k] = v
	}
	adminGiven := false
	flag.Visit(func(f *flag.Flag) { adminGiven = adminGiven || f.Name == "admin-addr" })
	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	logrus.SetLevel(lvl)
	logrus.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	log := logrus.NewEntry(logrus.StandardLogger())
	// gRPC reports rejected connections (bad preface, garbage) as warnings: keep those.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(logrus.StandardLogger().WriterLevel(logrus.DebugLevel),
		logrus.StandardLogger().WriterLevel(logrus.WarnLevel), logrus.StandardLogger().WriterLevel(logrus.ErrorLevel)))

	raiseFDLimit(log)
	if *debugAddr != "" {
		if !adminGiven && *adminAddr == admin.DefaultAddr {
			*adminAddr = *debugAddr
		}
		log.WithField("admin_addr", *adminAddr).Warn("-debug-addr is deprecated: pprof is served on the admin port at /debug/pprof/; use -admin-addr")
	}

	if ecfg.SparkHome == "" {
		return errors.New("no Spark installation: pass -spark-home or set SPARK_HOME (make run does this)")
	}
	if ecfg.SparkHome, err = filepath.Abs(ecfg.SparkHome); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(ecfg.SparkHome, "bin", "spark-submit")); err != nil {
		return fmt.Errorf("no spark-submit under -spark-home %s: %w", ecfg.SparkHome, err)
	}
	if ecfg.ShareLevel, err = engine.ParseShareLevel(*shareLevel); err != nil {
		return err
	}

	host, _ := os.Hostname()
	inner, err := authProvider(*authMode, authOptions{usersFile: *usersFile, ldap: ldapOpts, jwt: jwtOpts, log: log,
		kerberos: auth.KerberosConfig{Keytab: *krbKeytab, Principal: *krbPrincipal, Host: host, AuthToLocal: *krbRules}})
	if err != nil {
		return err
	}
	defer closeAuth(inner)
	if strings.Contains(strings.ToUpper(inner.Mode()), "LDAP") {
		// The guard's cache of successes must not outlive LDAP's: a disabled account or a
		// changed group is seen within -ldap-cache-ttl.
		gcfg.CacheTTL = min(gcfg.CacheTTL, ldapOpts.cfg.CacheTTL)
	}
	// Every check goes through the guard: a per-address backoff after failures, before
	// the expensive hash; a bounded pool of verifiers; a short cache of successes.
	provider := auth.NewGuard(inner, gcfg, log)
	// One account of connections and one pair of deny lists for both protocols.
	admCfg.DenyUsers, admCfg.DenyAddresses = splitList(*denyUsers), splitList(*denyAddrs)
	admission, err := auth.NewAdmission(admCfg, log)
	if err != nil {
		return err
	}
	wireAuth(provider, admission, &tcfg, &ccfg, &acfg)
	if k := auth.KerberosOf(inner); k != nil {
		tcfg.Kerberos = provider.GSS(k) // ticket checks through the same backoff
		log.WithField("principal", k.Principal()).Info("Kerberos on: SASL GSSAPI on the HiveServer2 binary port, SPNEGO on its HTTP port")
	}
	if tcfg.ProxyUsers, err = auth.ParseProxyUsers(*proxyAllow); err != nil {
		return err
	}
	ccfg.MaxMessageSize, ecfg.MaxMessageSize = *maxMsg, *maxMsg
	ccfg.ProtectedConf = append(ccfg.ProtectedConf, *protect...)
	if *tlsCert != "" || *tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("Spark Connect TLS: %w", err)
		}
		ccfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	var hs2TLS *tls.Config
	if *hs2Cert != "" || *hs2Key != "" {
		cert, err := tls.LoadX509KeyPair(*hs2Cert, *hs2Key)
		if err != nil {
			return fmt.Errorf("HiveServer2 TLS: %w", err)
		}
		hs2TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	if *jvmJar == "" {
		*jvmJar = defaultJVMJar()
	}
	if ecfg.PluginJar, err = filepath.Abs(*jvmJar); err != nil {
		return err
	}
	if _, err := os.Stat(ecfg.PluginJar); err != nil {
		return fmt.Errorf("the sparkbridge JVM jar is missing (make build writes bin/sparkbridge-jvm.jar; or pass -jvm-jar): %w", err)
	}
	ms, err := startCatalog(*catalogMode, *dataDir, *metastoreURIs, *warehouseDir, ecfg.PluginJar, *dbPasswordFile, *driverJars, mcfg, &ecfg, log)
	if err != nil {
		return err
	}
	// The metastore stops last, after every engine that uses it.
	if ms != nil {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = ms.Stop(ctx)
		}()
	}

	if ecfg.Detach, err = detachMode(*detach, ecfg.Master); err != nil {
		return err
	}
	launcher, stopRegistrar, err := newLauncher(&ecfg, *registerAddr, log)
	if err != nil {
		return err
	}
	defer stopRegistrar()
	if ecfg.Detach {
		ecfg.Store = engine.NewFileStore(filepath.Join(*dataDir, "engines.json"))
	}
	// One observer hook feeds the metrics and the audit log.
	obs, err := openObservability(*metricsOn, *metricsUserLabels, *auditLog, ccfg.ProtectedConf)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	// Closed after the shutdown has stopped every session and engine (run's defers).
	defer obs.close()
	if *auditLog != "" {
		log.WithField("file", *auditLog).Info("audit log on")
	}
	if !*metricsOn {
		log.Info("metrics off (-metrics=false): /metrics is not served")
	}
	obs.wire(&ecfg, &tcfg, &ccfg, &acfg)
	mgr := engine.NewManager(ecfg, launcher, log)
	obs.readFrom(mgr)
	if n, err := mgr.Adopt(context.Background()); err != nil {
		return fmt.Errorf("adopting detached engines: %w", err)
	} else if n > 0 {
		log.WithField("engines", n).Info("adopted detached engines left running by a previous bridge")
	}
	var asrv *admin.Server
	var aln net.Listener
	if *adminAddr != "" {
		acfg.Addr = *adminAddr
		acfg.Admins = splitList(*admins)
		if acfg.TLS, err = adminTLS(*adminCert, *adminKey, [][2]string{{*hs2Cert, *hs2Key}, {*tlsCert, *tlsKey}}); err != nil {
			return err
		}
		if asrv, err = admin.New(acfg, mgr, log); err != nil {
			return err
		}
		if aln, err = net.Listen("tcp", *adminAddr); err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
	}
	handler := thriftfront.NewHandler(tcfg, mgr, log)
	tsrv := thriftfront.NewServer(tcfg, handler, log)
	csrv := connectfront.New(ccfg, mgr, log)

	tln, err := net.Listen("tcp", *thriftAddr)
	if err != nil {
		return fmt.Errorf("thrift listener: %w", err)
	}
	if hs2TLS != nil {
		tln = tls.NewListener(tln, hs2TLS)
	}
	cln, err := net.Listen("tcp", *connectAddr)
	if err != nil {
		tln.Close()
		return fmt.Errorf("spark connect listener: %w", err)
	}
	log.WithFields(logrus.Fields{"thrift": tln.Addr().String(), "connect": cln.Addr().String(), "spark_home": ecfg.SparkHome, "master": ecfg.Master}).
		WithField("auth", provider.Mode()).WithField("connect_tls", ccfg.TLS != nil).Info("sparkbridge listening")
	if provider.TrustsClients() {
		log.Warn("auth mode NONE: every user name is trusted; use -auth FILE outside a trusted network")
	}
	for _, w := range authorizationWarnings(provider.TrustsClients(), ecfg) {
		log.WithField("auth", provider.Mode()).Warn("weak data authorization: " + w)
	}
	if admCfg.MaxPerUser+admCfg.MaxPerAddress+admCfg.MaxPerUserAddress+len(admCfg.DenyUsers)+len(admCfg.DenyAddresses) > 0 {
		log.WithFields(logrus.Fields{"max_per_user": admCfg.MaxPerUser, "max_per_address": admCfg.MaxPerAddress,
			"max_per_user_address": admCfg.MaxPerUserAddress, "deny_users": len(admCfg.DenyUsers), "deny_addresses": len(admCfg.DenyAddresses)}).
			Info("connection limits and deny lists on")
	}

	errc := make(chan error, 4)
	var hsrv *http.Server
	var hh *thriftfront.HTTPHandler
	if *httpAddr != "" {
		hln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			tln.Close()
			cln.Close()
			return fmt.Errorf("thrift HTTP listener: %w", err)
		}
		// The limit wraps the raw listener and TLS wraps the limit, so that net/http still
		// sees TLS connections (the auth cookie's Secure flag depends on it); over the
		// limit, a TLS client's connection is simply closed.
		if hs2TLS != nil {
			hln = tls.NewListener(newLimitListener(hln, *httpMaxConns, nil, obs.refused(metrics.ProtoHS2HTTP), log), hs2TLS)
		} else {
			hln = newLimitListener(hln, *httpMaxConns, refuseHTTP, obs.refused(metrics.ProtoHS2HTTP), log)
		}
		mux := http.NewServeMux()
		hh = thriftfront.NewHTTPHandler(handler, log)
		mux.Handle(*httpPath, hh)
		hsrv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
			ConnState: obs.connState(metrics.ProtoHS2HTTP)}
		log.WithFields(logrus.Fields{"addr": hln.Addr().String(), "path": *httpPath}).Info("HiveServer2 HTTP transport listening")
		go func() {
			if err := hsrv.Serve(hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	// The admin server is owned here: it serves through the drain (so that /readyz says 503
	// and operators can watch), and stops after everything else.
	adminDone := make(chan struct{})
	if asrv != nil {
		go func() {
			defer close(adminDone)
			if err := asrv.Serve(aln); err != nil {
				errc <- fmt.Errorf("admin server: %w", err)
			}
		}()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = asrv.Shutdown(ctx)
			<-adminDone
		}()
	} else {
		close(adminDone)
	}
	go func() { errc <- tsrv.Serve(tln) }()
	go func() {
		errc <- csrv.Serve(newLimitListener(cln, *connectMaxConns, nil, obs.refused(metrics.ProtoConnect), log))
	}()
	if asrv != nil {
		asrv.SetReady(true)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	var serveErr error
	select {
	case s := <-sig:
		log.WithField("signal", s.String()).Info("shutting down")
	case serveErr = <-errc:
		log.WithError(serveErr).Error("a listener failed; shutting down")
	}

	b := &stopper{log: log, mgr: mgr, handler: handler, tsrv: tsrv, tln: tln, hsrv: hsrv, hh: hh, csrv: csrv, grace: *grace}
	b.shutdown(sig)
	log.Info("sparkbridge stopped")
	return serveErr
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// adminTLS is the admin port's TLS: its own certificate and key when given, else the first
// pair of fallbacks (the HiveServer2 ports', then the Spark Connect port's) that is set;
// nil when none is.
func adminTLS(cert, key string, fallbacks [][2]string) (*tls.Config, error) {
	for _, fb := range fallbacks {
		if cert != "" || key != "" {
			break
		}
		cert, key = fb[0], fb[1]
	}
	if cert == "" && key == "" {
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("admin TLS: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
}

// raiseFDLimit lifts the soft open-files limit to the hard one: every client connection
// and every engine channel is a descriptor, and the usual soft limit of 1024 is a few
// hundred idle clients.
func raiseFDLimit(log *logrus.Entry) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur >= lim.Max {
		return
	}
	old := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.WithError(err).Warn("cannot raise the open-files limit")
		return
	}
	log.WithFields(logrus.Fields{"from": old, "to": lim.Max}).Debug("raised the open-files limit")
}

// detachMode is -engine-detach for master: auto means on with a cluster master (standalone,
// YARN, Kubernetes), whose engines run on the cluster or at least hold its executors, and off
// with a local one, whose engines stay children of the bridge.
func detachMode(flagValue, master string) (bool, error) {
	switch flagValue {
	case "auto":
		return engine.MasterKind(master) != "local", nil
	case "true", "false":
		return flagValue == "true", nil
	}
	return false, fmt.Errorf("-engine-detach %q: want auto, true or false", flagValue)
}

// newLauncher is the spark-submit launcher for ecfg. In cluster deploy mode it also serves the
// registration endpoint drivers call back on, at addr (and completes ecfg.RegisterURL); the
// returned function stops it.
func newLauncher(ecfg *engine.Config, addr string, log *logrus.Entry) (*engine.SparkSubmit, func(), error) {
	switch ecfg.DeployMode {
	case "", engine.DeployClient:
		ecfg.DeployMode = engine.DeployClient
		return engine.NewSparkSubmit(*ecfg), func() {}, nil
	case engine.DeployCluster:
	default:
		return nil, nil, fmt.Errorf("-deploy-mode %q: want client or cluster", ecfg.DeployMode)
	}
	if k := engine.MasterKind(ecfg.Master); k != "spark" && k != "yarn" && k != "k8s" {
		return nil, nil, fmt.Errorf("-deploy-mode cluster needs a spark://, yarn or k8s:// master; %q is none", ecfg.Master)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("engine registration listener: %w", err)
	}
	if ecfg.RegisterURL == "" {
		ecfg.RegisterURL = "http://" + ln.Addr().String() + "/engines/register"
	}
	reg := engine.NewRegistrar()
	mux := http.NewServeMux()
	mux.Handle("/engines/register", reg)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.WithFields(logrus.Fields{"addr": ln.Addr().String(), "url": ecfg.RegisterURL}).Info("engine registration listening")
	l := engine.NewSparkSubmit(*ecfg)
	l.Registrar = reg
	return l, func() { _ = srv.Close() }, nil
}
