package itest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// sparkServer is the package's standalone Spark Connect server: the engine tests compare the
// bridge against, and the bridge's static engine for user "static".
type sparkServer struct {
	cmd     *exec.Cmd
	port    int
	token   string
	logPath string
	done    chan struct{}
}

// startSparkConnect starts a real Spark Connect server with spark-submit on a free loopback
// port, passing its token in the environment, and waits until it answers a query. The
// process dies with the test binary (parent-death signal); stop ends it otherwise.
func startSparkConnect(sparkHome, venv, work string) (*sparkServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	s := &sparkServer{port: port, token: hex.EncodeToString(b), logPath: filepath.Join(work, "spark-connect.log"), done: make(chan struct{})}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd = exec.Command(filepath.Join(sparkHome, "bin", "spark-submit"),
		"--master", "local[2]", "--driver-memory", "1g",
		"--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
		"--conf", "spark.connect.grpc.binding.address=127.0.0.1",
		"--conf", "spark.connect.grpc.binding.port="+strconv.Itoa(port),
		"--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1",
		"--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
		"--conf", "spark.sql.warehouse.dir="+filepath.Join(work, "harness-warehouse"))
	s.cmd.Dir = work
	s.cmd.Env = append(os.Environ(), "SPARK_CONNECT_AUTHENTICATE_TOKEN="+s.token, "SPARK_LOCAL_IP=127.0.0.1",
		"PYSPARK_PYTHON="+filepath.Join(venv, "bin", "python"))
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		if err := s.ping(ctx, venv); err == nil {
			return s, nil
		} else if ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("Spark Connect server did not answer (log %s): %v", s.logPath, err)
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("Spark Connect server exited during start; see %s", s.logPath)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *sparkServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// url is the server's sc:// URL; "localhost" lets PySpark send the token without TLS.
func (s *sparkServer) url(user string) string {
	return fmt.Sprintf("sc://localhost:%d/;token=%s;user_id=%s", s.port, s.token, user)
}

// ping runs SELECT 1 with PySpark. (spark-connect-go insists on TLS whenever a token is
// set, and this server, like every engine, speaks plaintext on loopback.)
func (s *sparkServer) ping(ctx context.Context, venv string) error {
	c, err := net.DialTimeout("tcp", s.addr(), time.Second)
	if err != nil {
		return err
	}
	c.Close()
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(pctx, filepath.Join(venv, "bin", "python"), "-c",
		"import sys; from pyspark.sql import SparkSession; s = SparkSession.builder.remote(sys.argv[1]).getOrCreate(); assert s.sql('SELECT 1').collect()[0][0] == 1",
		s.url("harness"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, tail(string(out), 5))
	}
	return nil
}

// stop ends the server and its process group and waits for it.
func (s *sparkServer) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}
