package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/engine"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sparkbridge.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFileApplies(t *testing.T) {
	fc, err := loadConfigFile(writeConfig(t, `{
		"thrift_addr": "127.0.0.1:10001",
		"audit_log": "/var/log/sparkbridge/audit.log",
		"metrics_user_labels": true,
		"engine": {
			"share_level": "group", "groups": {"alice": "analysts"},
			"spark_conf": {"spark.executor.memory": "2g"},
			"user_conf": {"alice": {"spark.executor.cores": "4"}},
			"idle_timeout": "90s", "max_lifetime": "0s", "max_engines": 4,
			"static_engines": {"emr": {"addr": "10.0.0.1:15002", "token": "t", "tls": true}},
			"group_engines": {"bi": "emr"}
		}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.MaxLifetime = time.Hour
	if err := fc.Engine.apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if fc.AuditLog != "/var/log/sparkbridge/audit.log" || fc.MetricsUserLabels == nil || !*fc.MetricsUserLabels {
		t.Fatalf("audit_log %q, metrics_user_labels %v", fc.AuditLog, fc.MetricsUserLabels)
	}
	if fc.ThriftAddr != "127.0.0.1:10001" || cfg.ShareLevel != engine.ShareGroup || cfg.Groups["alice"] != "analysts" {
		t.Fatalf("cfg = %+v", cfg)
	}
	if cfg.SparkConf["spark.executor.memory"] != "2g" || cfg.SparkConf["spark.ui.enabled"] != "false" {
		t.Fatalf("spark conf = %v: the file adds to the defaults", cfg.SparkConf)
	}
	if cfg.IdleTimeout != 90*time.Second || cfg.MaxLifetime != 0 || cfg.MaxEngines != 4 || cfg.LivenessInterval != 30*time.Second {
		t.Fatalf("durations and limits: %+v", cfg)
	}
	if cfg.StaticEngines["emr"].Addr != "10.0.0.1:15002" || !cfg.StaticEngines["emr"].TLS || cfg.GroupEngines["bi"] != "emr" {
		t.Fatalf("static engines: %+v %+v", cfg.StaticEngines, cfg.GroupEngines)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"engine": {"bogus": 1}}`:                                        `unknown field "bogus"`,
		`{"engine": {"idle_timeout": 30}}`:                                "durations are strings",
		`{"engine": {"idle_timeout": "soon"}}`:                            "invalid duration",
		`{"engine": {"share_level": "cluster"}}`:                          "unknown share level",
		`{"engine": {"user_engines": {"alice": "nowhere"}}}`:              `static engine "nowhere"`,
		`{"engine": {"static_engines": {}, "group_engines": {"g": "x"}}}`: `static engine "x"`,
		`{"engine": {"user_profiles": {"alice": "spark35"}}}`:             `engine profile "spark35", which profiles does not define`,
		`{"engine": {"profiles": {"p": {}}}}`:                             `engine profile "p" has no spark_home`,
		`{"engine": {"profiles": {"p": {"spark_home": "/nonexistent"}}}}`: `no spark-submit under /nonexistent`,
	} {
		fc, err := loadConfigFile(writeConfig(t, body))
		if err == nil {
			cfg := engine.DefaultConfig()
			err = fc.Engine.apply(&cfg)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}

func TestConfigFileAdminKeys(t *testing.T) {
	fc, err := loadConfigFile(writeConfig(t, `{"admin": {"addr": "0.0.0.0:10019", "tls_cert": "c.pem", "tls_key": "k.pem",
		"admins": ["alice", "bob"], "engine_grace": "5m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	addr, cert, key, admins := "127.0.0.1:10019", "", "", ""
	grace := time.Minute
	fc.Admin.apply(&addr, &cert, &key, &admins, &grace)
	if addr != "0.0.0.0:10019" || cert != "c.pem" || key != "k.pem" || admins != "alice,bob" || grace != 5*time.Minute {
		t.Fatalf("admin config: %s %s %s %q %s", addr, cert, key, admins, grace)
	}
	if got := splitList(" alice, ,bob "); len(got) != 2 || got[0] != "alice" || got[1] != "bob" {
		t.Fatalf("splitList = %q", got)
	}
}

// The cluster keys reach the engine config, and -engine-detach's auto means on with a
// cluster master only.
func TestConfigFileClusterKeys(t *testing.T) {
	fc, err := loadConfigFile(writeConfig(t, `{"engine": {
		"master": "k8s://https://api:6443", "deploy_mode": "cluster", "detach": "false",
		"master_ui_url": "http://m:8081", "yarn_cmd": "/opt/hadoop/bin/yarn", "kubectl": "/usr/local/bin/kubectl",
		"engine_jar_uri": "local:///opt/sparkbridge/sparkbridge-jvm.jar"}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	if err := fc.Engine.apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Master != "k8s://https://api:6443" || cfg.DeployMode != engine.DeployCluster || fc.Engine.Detach != "false" ||
		cfg.MasterUI != "http://m:8081" || cfg.YarnCommand != "/opt/hadoop/bin/yarn" || cfg.Kubectl != "/usr/local/bin/kubectl" ||
		cfg.EngineJarURI != "local:///opt/sparkbridge/sparkbridge-jvm.jar" {
		t.Fatalf("cfg = %+v", cfg)
	}
	for _, tc := range []struct {
		flag, master string
		want         bool
	}{
		{"auto", "local[*]", false}, {"auto", "spark://m:7077", true}, {"auto", "yarn", true}, {"auto", "k8s://https://api", true},
		{"true", "local[2]", true}, {"false", "yarn", false},
	} {
		if got, err := detachMode(tc.flag, tc.master); err != nil || got != tc.want {
			t.Errorf("detachMode(%s, %s) = %v, %v", tc.flag, tc.master, got, err)
		}
	}
	if _, err := detachMode("yes", "yarn"); err == nil {
		t.Error("detachMode accepted yes")
	}
}

// -auth takes one mode or a comma-separated chain; NONE cannot be chained.
func TestAuthProviderModes(t *testing.T) {
	users := writeConfig(t, `{"users": []}`)
	p, err := authProvider("file", authOptions{usersFile: users})
	if err != nil || p.Mode() != "FILE" {
		t.Fatalf("FILE: %v, %v", p, err)
	}
	if _, err := authProvider("FILE,NONE", authOptions{usersFile: users}); err == nil || !strings.Contains(err.Error(), "cannot be chained") {
		t.Fatalf("NONE chained: %v", err)
	}
	if _, err := authProvider("FILE, BOGUS", authOptions{usersFile: users}); err == nil || !strings.Contains(err.Error(), "BOGUS") {
		t.Fatalf("an unknown mode: %v", err)
	}
}
