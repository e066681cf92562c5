package engine

import "time"

// Config configures the Manager and the spark-submit launcher.
type Config struct {
	// SparkHome is the Spark installation whose bin/spark-submit launches engines.
	SparkHome string
	// Master is passed as --master; local[*] by default. yarn and k8s:// masters run in
	// client mode so that the engine's Connect port is on this host.
	Master string
	// DriverMemory is passed as --driver-memory when set.
	DriverMemory string
	// SparkConf holds --conf defaults for every engine. The bridge's own binding and
	// secret settings always win over these.
	SparkConf map[string]string
	// LogDir receives one log file per engine launch.
	LogDir string
	// StartTimeout bounds a launch: process start until the server answers.
	StartTimeout time.Duration
	// StopTimeout is how long a stopping engine gets after SIGTERM before SIGKILL.
	StopTimeout time.Duration
	// MaxMessageSize bounds gRPC messages to and from engines, in bytes.
	MaxMessageSize int
}

// DefaultConfig returns the configuration `make run` uses, minus SparkHome.
func DefaultConfig() Config {
	return Config{
		Master:       "local[*]",
		DriverMemory: "1g",
		SparkConf: map[string]string{
			"spark.ui.enabled": "false",
		},
		LogDir:         "var/engines",
		StartTimeout:   3 * time.Minute,
		StopTimeout:    15 * time.Second,
		MaxMessageSize: 128 << 20,
	}
}
