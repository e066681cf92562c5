package itest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Spark Thrift Server from the same pyspark install, the reference the bridge is compared
// with. One runs per package run, started on first use, attached to the main bridge's
// metastore, so that both servers see the same databases and tables.
var (
	stsOnce sync.Once
	stsAddr string
	stsStop func()
	stsErr  error
)

// sharedThriftServer returns the package's Spark Thrift Server address, starting it on first
// use. runMain stops it.
func sharedThriftServer(t *testing.T) string {
	t.Helper()
	stsOnce.Do(func() {
		uri, err := bridgeMetastoreURI()
		if err != nil {
			stsErr = err
			return
		}
		stsAddr, stsStop, stsErr = startThriftServer("spark.sql.catalogImplementation=hive",
			"spark.hadoop.hive.metastore.uris="+uri, "spark.sql.warehouse.dir=file:"+filepath.Join(workDir, "data", "warehouse"))
	})
	if stsErr != nil {
		t.Fatalf("Spark Thrift Server: %v", stsErr)
	}
	return stsAddr
}

// bridgeMetastoreURI reads the main bridge's metastore address from its log.
func bridgeMetastoreURI() (string, error) {
	m := regexp.MustCompile(`msg="metastore ready" addr="([^"]+)"`).FindStringSubmatch(bridge.log())
	if m == nil {
		return "", fmt.Errorf("the bridge logged no metastore address")
	}
	return "thrift://" + m[1], nil
}

// startThriftServer starts Spark Thrift Server on a free loopback port with extra confs and
// returns its address and a function that stops it.
func startThriftServer(conf ...string) (string, func(), error) {
	dir, err := os.MkdirTemp(workDir, "sts-")
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "sts.log"))
	if err != nil {
		return "", nil, err
	}
	defer logFile.Close()
	args := []string{"--master", "local[2]", "--driver-memory", "1g",
		"--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
		"--conf", "spark.ui.enabled=false", "--conf", "spark.sql.warehouse.dir=" + filepath.Join(dir, "warehouse"),
		"--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1"}
	for _, c := range conf {
		args = append(args, "--conf", c)
	}
	args = append(args, "--hiveconf", "hive.server2.thrift.port="+strconv.Itoa(port),
		"--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1", "spark-internal")
	cmd := exec.Command(filepath.Join(bridge.sparkHome, "bin", "spark-submit"), args...)
	cmd.Dir = dir // an embedded Derby metastore_db, if any, lands here
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr, stop, nil
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "sts.log"))
			return "", nil, fmt.Errorf("Spark Thrift Server exited during start:\n%s", tail(string(log), 30))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("Spark Thrift Server did not listen within 3 minutes")
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// beelineFile runs a SQL file through beeline against addr and returns the raw csv2 output.
func beelineFile(t *testing.T, addr, file string) []byte {
	t.Helper()
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"), "-u", "jdbc:hive2://"+addr+"/default",
		"-n", "alice", "-p", "x", "--outputformat=csv2", "--silent=true", "-f", file)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("beeline against %s: %v\n%s", addr, err, tail(errb.String(), 20))
	}
	return out.Bytes()
}

// TestTypesMatchSparkThriftServer runs one row of every Spark type, and one of typed NULLs,
// through the bridge and through Spark Thrift Server, and requires byte-identical beeline
// output.
func TestTypesMatchSparkThriftServer(t *testing.T) {
	sts := sharedThriftServer(t)
	file, _ := filepath.Abs(filepath.Join("testdata", "types.sql"))
	want := beelineFile(t, sts, file)
	got := beelineFile(t, bridge.thriftAddr, file)
	clean := func(b []byte) []string {
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			// beeline -f echoes its (null) prompt around the statement; such lines carry no data.
			if strings.Trim(strings.ReplaceAll(l, "null", ""), " \r") == "" {
				continue
			}
			if l = beelinePrompt.ReplaceAllString(strings.TrimSpace(l), ""); l != "" {
				lines = append(lines, l)
			}
		}
		return lines
	}
	w, g := clean(want), clean(got)
	if len(w) != 3 || len(g) != 3 {
		t.Fatalf("want a header and 2 rows; Spark Thrift Server printed %q, the bridge %q", w, g)
	}
	// beeline's -f mode prefixes the header with prompt echoes whose count varies: compare
	// the column list only.
	const header = "b,ti,si,i,l,f,f2,d,dbig,dec,s,vc,ch,bin,dt,ts,ts0,tsntz,dti,ymi,arr,sarr,m,st,n"
	if !strings.HasSuffix(w[0], header) || !strings.HasSuffix(g[0], header) {
		t.Fatalf("headers differ: STS %q, bridge %q", w[0], g[0])
	}
	w, g = w[1:], g[1:]
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("bridge and Spark Thrift Server differ.\nbridge: %q\nSTS:    %q", g, w)
	}
	if !strings.Contains(g[0], "2024-01-31 12:34:56.123456") || strings.Trim(g[1], "NULL,") != "" {
		t.Fatalf("unexpected values %q", g)
	}
}
