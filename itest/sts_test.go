package itest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startThriftServer starts Spark Thrift Server from the same pyspark install, on a free
// loopback port, and stops it when the test ends.
func startThriftServer(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(workDir, "sts-")
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "sts.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bridge.sparkHome, "bin", "spark-submit"), "--master", "local[2]", "--driver-memory", "1g",
		"--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
		"--conf", "spark.ui.enabled=false", "--conf", "spark.sql.warehouse.dir="+filepath.Join(dir, "warehouse"),
		"--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1",
		"--hiveconf", "hive.server2.thrift.port="+strconv.Itoa(port), "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
		"spark-internal")
	cmd.Dir = dir // Derby's metastore_db lands here
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "sts.log"))
			t.Fatalf("Spark Thrift Server exited during start:\n%s", tail(string(log), 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Spark Thrift Server did not listen within 3 minutes")
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
	sts := startThriftServer(t)
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
