package metastore

import (
	"context"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// TestMain lets the test binary stand in for the metastore JVM: with FAKE_METASTORE set it
// serves the port it is given, as MetastoreServer would, until SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("FAKE_METASTORE") == "1" {
		fakeMetastore(os.Args[len(os.Args)-2], os.Args[len(os.Args)-1])
		return
	}
	os.Exit(m.Run())
}

func fakeMetastore(host, port string) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		os.Exit(3)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
}

func fakeConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	jar := filepath.Join(dir, "sparkbridge-jvm.jar")
	if err := os.WriteFile(jar, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_METASTORE", "1")
	cfg := DefaultConfig()
	cfg.SparkHome = dir
	cfg.Jar = jar
	cfg.Java = os.Args[0]
	cfg.DataDir = filepath.Join(dir, "data", "metastore")
	cfg.StartTimeout = 20 * time.Second
	cfg.StopTimeout = 5 * time.Second
	cfg.RestartBackoff = 10 * time.Millisecond
	return cfg
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// A metastore that dies is restarted on the same port, so engines keep their URI; Stop ends
// it and its supervision for good.
func TestServiceRestartsOnSamePort(t *testing.T) {
	cfg := fakeConfig(t)
	s, err := Start(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	first := s.PID()
	if first == 0 {
		t.Fatal("no metastore process after Start")
	}
	uri := s.URI()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if pid := s.PID(); pid != 0 && pid != first {
			if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the metastore was not restarted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.URI() != uri {
		t.Errorf("URI changed across a restart: %s, then %s", uri, s.URI())
	}
	if s.restartCount() != 1 {
		t.Errorf("restartCount() = %d, want 1", s.restartCount())
	}
	last := s.PID()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(last, 0); err == nil {
		t.Errorf("metastore %d still running after Stop", last)
	}
	if s.PID() != 0 {
		t.Error("PID() after Stop is not 0")
	}
}

// A metastore that cannot start reports its log, not a hang.
func TestStartFailureShowsLog(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Java = "/bin/false"
	_, err := Start(context.Background(), cfg, quietLog())
	if err == nil || !strings.Contains(err.Error(), "exited during start") {
		t.Fatalf("err = %v, want an exit during start", err)
	}
	cfg.Jar = filepath.Join(t.TempDir(), "missing.jar")
	if _, err := Start(context.Background(), cfg, quietLog()); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("err = %v, want a hint to build the jar", err)
	}
}

// The configuration file holds the database credentials: readable by the owner only, and
// well-formed XML whatever the values hold.
func TestSiteXML(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.DBURL = "jdbc:postgresql://127.0.0.1:5432/hms?ssl=false&x=<y>"
	cfg.DBUser = "hive"
	cfg.DBPassword = "p&ss<word>"
	cfg.WarehouseDir = "s3a://bucket/warehouse"
	props := cfg.siteProperties()
	if props["javax.jdo.option.ConnectionDriverName"] != "org.postgresql.Driver" {
		t.Errorf("driver = %q", props["javax.jdo.option.ConnectionDriverName"])
	}
	if props["hive.metastore.warehouse.dir"] != "s3a://bucket/warehouse" {
		t.Errorf("warehouse = %q", props["hive.metastore.warehouse.dir"])
	}
	path := filepath.Join(t.TempDir(), "hive-site.xml")
	if err := writeSiteXML(path, props); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("hive-site.xml mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "p&amp;ss&lt;word&gt;") || strings.Contains(string(data), "p&ss<word>") {
		t.Errorf("password not escaped:\n%s", data)
	}

	derby := fakeConfig(t)
	p := derby.siteProperties()
	if want := "jdbc:derby:;databaseName=" + filepath.Join(derby.DataDir, "metastore_db") + ";create=true"; p["javax.jdo.option.ConnectionURL"] != want {
		t.Errorf("derby URL = %q, want %q", p["javax.jdo.option.ConnectionURL"], want)
	}
}

func TestEngineConf(t *testing.T) {
	c := EngineConf("thrift://127.0.0.1:9083", "/data/wh", time.Minute)
	want := map[string]string{
		"spark.sql.catalogImplementation":                   "hive",
		"spark.hadoop.hive.metastore.uris":                  "thrift://127.0.0.1:9083",
		"spark.sql.warehouse.dir":                           "file:/data/wh",
		"spark.hadoop.hive.metastore.client.socket.timeout": "60s",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %q, want %q", k, c[k], v)
		}
	}
	if got := WarehouseURI("hdfs://nn/warehouse"); got != "hdfs://nn/warehouse" {
		t.Errorf("WarehouseURI(hdfs) = %q", got)
	}
	if got := DriverFor("jdbc:mysql://h/db"); got != "com.mysql.cj.jdbc.Driver" {
		t.Errorf("DriverFor(mysql) = %q", got)
	}
}
