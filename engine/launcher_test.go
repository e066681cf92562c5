package engine

import (
	"context"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"testing"
)

// The catalog confs are the bridge's: neither the config's defaults nor a user's or a
// session's confs can point an engine at another metastore or warehouse.
func TestEngineConfCatalogWins(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.SparkConf = map[string]string{
		"spark.sql.warehouse.dir":          "file:/elsewhere",
		"spark.sql.shuffle.partitions":     "4",
		"spark.connect.authenticate.token": "leak",
	}
	cfg.CatalogConf = map[string]string{
		"spark.sql.catalogImplementation":  "hive",
		"spark.hadoop.hive.metastore.uris": "thrift://127.0.0.1:9083",
		"spark.sql.warehouse.dir":          "file:/shared/warehouse",
	}
	l := NewSparkSubmit(cfg)
	got := l.engineConf(Spec{Conf: map[string]string{
		"spark.sql.catalogImplementation":  "in-memory",
		"spark.hadoop.hive.metastore.uris": "thrift://attacker:9083",
		"spark.sql.shuffle.partitions":     "8",
	}}, 4242)
	want := map[string]string{
		"spark.sql.catalogImplementation":    "hive",
		"spark.hadoop.hive.metastore.uris":   "thrift://127.0.0.1:9083",
		"spark.sql.warehouse.dir":            "file:/shared/warehouse",
		"spark.sql.shuffle.partitions":       "8",
		"spark.connect.grpc.binding.port":    "4242",
		"spark.connect.grpc.binding.address": "127.0.0.1",
		"spark.ui.enabled":                   "",
	}
	for k, v := range want {
		if v == "" {
			continue
		}
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["spark.connect.authenticate.token"]; ok {
		t.Error("the engine secret must never be on argv")
	}
	// Without a catalog, nothing is added: the engine keeps Spark's default.
	l = NewSparkSubmit(DefaultConfig())
	if v, ok := l.engineConf(Spec{}, 1)["spark.sql.catalogImplementation"]; ok {
		t.Errorf("catalogImplementation set to %q with no catalog configured", v)
	}
}

// The plugin jar joins the jars and interceptors a config already names, once.
func TestEngineConfPlugin(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.PluginJar = "/opt/sparkbridge/sparkbridge-jvm.jar"
	cfg.SparkConf = map[string]string{"spark.jars": "/opt/x.jar", "spark.connect.grpc.interceptor.classes": "com.example.Audit"}
	got := NewSparkSubmit(cfg).engineConf(Spec{}, 1)
	if want := "/opt/x.jar,/opt/sparkbridge/sparkbridge-jvm.jar"; got["spark.jars"] != want {
		t.Errorf("spark.jars = %q, want %q", got["spark.jars"], want)
	}
	if want := "com.example.Audit," + TokenInterceptor + "," + PluginInterceptor; got["spark.connect.grpc.interceptor.classes"] != want {
		t.Errorf("interceptors = %q, want %q", got["spark.connect.grpc.interceptor.classes"], want)
	}
	cfg.SparkConf = map[string]string{"spark.jars": cfg.PluginJar}
	if got := NewSparkSubmit(cfg).engineConf(Spec{}, 1)["spark.jars"]; got != cfg.PluginJar {
		t.Errorf("spark.jars = %q, want the plugin once", got)
	}
}

// A profile's Spark confs and jars apply over the config's, and the user's over both.
func TestEngineConfProfile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dial = DialWith(transport.Dial)
	cfg.SparkConf = map[string]string{"spark.a": "config", "spark.b": "config"}
	cfg.Profiles = map[string]Profile{"spark35": {SparkHome: "/opt/spark-3.5", SparkConf: map[string]string{"spark.b": "profile", "spark.c": "profile"},
		Jars: []string{"/opt/spark-connect_2.12-3.5.7.jar"}}}
	got := NewSparkSubmit(cfg).engineConf(Spec{Profile: "spark35", Conf: map[string]string{"spark.c": "user"}}, 1)
	for k, want := range map[string]string{"spark.a": "config", "spark.b": "profile", "spark.c": "user", "spark.jars": "/opt/spark-connect_2.12-3.5.7.jar"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, err := NewSparkSubmit(cfg).Launch(context.Background(), Spec{Profile: "nope"}); err == nil {
		t.Error("launching with an undefined profile worked")
	}
}
