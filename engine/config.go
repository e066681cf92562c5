package engine

import "time"

// Deploy modes.
const (
	DeployClient  = "client"
	DeployCluster = "cluster"
)

// Config configures the Manager and the spark-submit launcher. cmd/sparkbridge fills it from
// flags and the config file; the zero value of each limit or timeout means "none".
type Config struct {
	// SparkHome is the Spark installation whose bin/spark-submit launches engines.
	SparkHome string
	// Master is passed as --master; local[*] by default.
	Master string
	// DeployMode is client (the default: the engine's driver runs on this host) or cluster
	// (the cluster manager runs the driver, which registers its Connect address at
	// RegisterURL; spark://, yarn and k8s:// masters).
	DeployMode string
	// RegisterURL is where cluster-mode drivers register, as they can reach it.
	RegisterURL string
	// Detach leaves engines running when the bridge stops, recorded in Store, and
	// Manager.Adopt finds them again at the next start. Engines still stop after their idle
	// timeout, by the bridge's reaper or by themselves when no bridge is left. A client-mode
	// engine is then launched in its own session, without the parent-death signal.
	Detach bool
	// MasterUI is a standalone Master's web UI (default: port 8080 of the master's host),
	// where the bridge reads the Master's view of each engine's driver.
	MasterUI string
	// YarnCommand is the yarn command line (default "yarn"): it kills a YARN engine
	// (yarn application -kill) and reports its state.
	YarnCommand string
	// Kubectl is the kubectl command line (default "kubectl"): it keeps a Kubernetes
	// driver's secrets in a Kubernetes secret and reports the driver pod's state.
	Kubectl string
	// EngineJarURI is the sparkbridge JVM jar as cluster-mode drivers reach it (default
	// PluginJar, a path that must then exist on every node): an hdfs://, s3a://, http(s)://
	// or, for a Kubernetes image that holds it, local:// URI.
	EngineJarURI string
	// Store keeps the records of detached engines (a FileStore under the data directory).
	Store EngineStore
	// DriverMemory is passed as --driver-memory when set.
	DriverMemory string
	// SparkConf holds --conf defaults for every engine. The bridge's own binding and
	// secret settings always win over these.
	SparkConf map[string]string
	// MasterConf holds --conf defaults by kind of master ("local", "spark", "yarn", "k8s"):
	// those of Master's kind apply over SparkConf (a YARN queue, a Kubernetes namespace,
	// image and service account).
	MasterConf map[string]map[string]string
	// CatalogConf holds the confs that attach every launched engine to the shared catalog
	// (the metastore URI, the warehouse directory). The bridge owns them: they apply over
	// SparkConf, UserConf and session confs alike. Static engines never get them.
	CatalogConf map[string]string
	// PluginJar is the sparkbridge JVM jar. When set, every launched engine loads it and
	// runs its Connect interceptor (PluginInterceptor), which makes current_user() and table
	// owners the session's user, as on Spark Thrift Server.
	PluginJar string
	// UserConf holds per-user Spark conf overrides, applied over SparkConf.
	UserConf map[string]map[string]string
	// SessionConfAllowList lists the Spark conf keys (or path.Match patterns) a session may
	// set for an engine it launches; they apply over UserConf.
	SessionConfAllowList []string
	// ProxyUser launches engines with --proxy-user set to the user (or group) they serve.
	ProxyUser bool
	// LogDir receives one log file per engine launch.
	LogDir string
	// StartTimeout bounds a launch: process start until the server answers.
	StartTimeout time.Duration
	// StopTimeout is how long a stopping engine gets after SIGTERM before SIGKILL.
	StopTimeout time.Duration
	// MaxMessageSize bounds gRPC messages to and from engines, in bytes.
	MaxMessageSize int
	// Dial connects to an engine once it is launched; cmd/sparkbridge sets it to the gRPC
	// transport's (transport.Dial). Without it no engine can be used.
	Dial Dialer

	// ShareLevel decides which sessions share an engine; USER by default.
	ShareLevel ShareLevel
	// AllowShareLevelOverride lets a session choose its share level (ConfShareLevel).
	AllowShareLevelOverride bool
	// Groups maps users to their group for the GROUP share level; a user without an entry
	// is their own group.
	Groups map[string]string

	// Profiles are other ways to launch an engine, by name: another Spark installation (so
	// another Spark version) with confs and jars of its own. UserProfiles and GroupProfiles
	// choose one for a user or for a group's members (a user's entry wins); everyone else
	// gets SparkHome and SparkConf.
	Profiles      map[string]Profile
	UserProfiles  map[string]string
	GroupProfiles map[string]string

	// StaticEngines are pre-provisioned Spark Connect endpoints, by name.
	StaticEngines map[string]StaticEngine
	// UserEngines and GroupEngines route users, or members of groups, to static engines.
	UserEngines  map[string]string
	GroupEngines map[string]string

	// IdleTimeout stops an engine that has had no sessions for this long.
	IdleTimeout time.Duration
	// MaxLifetime makes an engine drain after this long: new sessions go to a new engine,
	// and the old one stops when its last session ends.
	MaxLifetime time.Duration
	// LivenessInterval is how often running engines are probed; an engine that fails three
	// probes in a row is stopped and treated as crashed.
	LivenessInterval time.Duration
	// SessionIdleTimeout closes a session with no calls and no running operation for this long.
	SessionIdleTimeout time.Duration
	// OperationIdleTimeout closes an operation that no client has touched for this long.
	OperationIdleTimeout time.Duration
	// ReapInterval is how often idle engines, sessions and operations are looked for.
	ReapInterval time.Duration

	// MaxEngines bounds the engines running at once.
	MaxEngines int
	// MaxSessionsPerUser bounds one user's open sessions.
	MaxSessionsPerUser int
	// MaxOperationsPerSession bounds one session's operations that are running at once.
	MaxOperationsPerSession int

	// Observer is told of every session, operation and engine event (metrics, the audit
	// log); nil tells no one.
	Observer Observer
}

// StaticEngine is a pre-provisioned Spark Connect endpoint, such as a Spark Connect service
// on Kubernetes, EMR or Dataproc.
type StaticEngine struct {
	// Addr is host:port.
	Addr string `json:"addr"`
	// Token is the bearer token the endpoint expects, if any.
	Token string `json:"token"`
	// TLS dials the endpoint with TLS; CAFile, if set, is the PEM bundle to trust.
	TLS    bool   `json:"tls"`
	CAFile string `json:"ca_file"`
}

// Profile is a way to launch engines other than the default one.
type Profile struct {
	// SparkHome is the Spark installation whose spark-submit launches the engine.
	SparkHome string `json:"spark_home"`
	// SparkConf holds --conf values for the profile's engines, over Config.SparkConf.
	SparkConf map[string]string `json:"spark_conf"`
	// Jars are added to spark.jars: Spark 3.5's Connect server, for one, is not part of its
	// distribution (spark-connect_2.12-3.5.x.jar from Maven Central).
	Jars []string `json:"jars"`
}

// DefaultConfig returns the configuration `make run` uses, minus SparkHome.
func DefaultConfig() Config {
	return Config{
		Master:       "local[*]",
		DriverMemory: "1g",
		SparkConf: map[string]string{
			"spark.ui.enabled": "false",
		},
		SessionConfAllowList: []string{"spark.executor.*", "spark.dynamicAllocation.*", "spark.sql.shuffle.partitions", "spark.driver.cores"},
		LogDir:               "var/engines",
		StartTimeout:         3 * time.Minute,
		StopTimeout:          15 * time.Second,
		MaxMessageSize:       128 << 20,
		ShareLevel:           ShareUser,
		IdleTimeout:          30 * time.Minute,
		LivenessInterval:     30 * time.Second,
		SessionIdleTimeout:   6 * time.Hour,
		OperationIdleTimeout: 3 * time.Hour,
		ReapInterval:         time.Second,
	}
}
