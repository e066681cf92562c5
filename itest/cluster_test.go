package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// standalone is a Spark standalone cluster from the pinned pyspark install: one Master and
// one Worker, bound to loopback, as `spark-class org.apache.spark.deploy.master.Master` and
// `...worker.Worker` start them.
type standalone struct {
	master   string // spark://127.0.0.1:PORT
	masterUI string // http://127.0.0.1:PORT
	procs    []*exec.Cmd
	logs     []string
}

// startStandalone starts the cluster; it stops with the test.
func startStandalone(t *testing.T, dir string, workerCores int, workerMemory string) *standalone {
	t.Helper()
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	c := &standalone{master: fmt.Sprintf("spark://127.0.0.1:%d", ports[0]), masterUI: fmt.Sprintf("http://127.0.0.1:%d", ports[1])}
	t.Cleanup(c.stop)
	class := filepath.Join(bridge.sparkHome, "bin", "spark-class")
	env := append(os.Environ(), "SPARK_HOME="+bridge.sparkHome, "SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_WORKER_DIR="+filepath.Join(dir, "worker"), "SPARK_LOG_DIR="+dir, "SPARK_DAEMON_MEMORY=512m")
	start := func(name string, args ...string) {
		logPath := filepath.Join(dir, name+".log")
		f, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(class, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, f, f, dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.procs = append(c.procs, cmd)
		c.logs = append(c.logs, logPath)
	}
	start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
		"--webui-port", strconv.Itoa(ports[1]))
	start("worker", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--webui-port", strconv.Itoa(ports[2]),
		"--cores", strconv.Itoa(workerCores), "--memory", workerMemory, c.master)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := c.state()
		if err == nil && st.AliveWorkers == 1 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("standalone cluster not up (state %+v, %v); master log:\n%s", st, err, c.logTail(0, 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *standalone) logTail(i, n int) string {
	b, _ := os.ReadFile(c.logs[i])
	return tail(string(b), n)
}

func (c *standalone) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// masterState is the part of the Master's /json view the tests read.
type masterState struct {
	AliveWorkers int `json:"aliveworkers"`
	Workers      []struct {
		ID        string `json:"id"`
		Host      string `json:"host"`
		CoresUsed int    `json:"coresused"`
		State     string `json:"state"`
	} `json:"workers"`
	ActiveApps []struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Cores int    `json:"cores"`
		State string `json:"state"`
	} `json:"activeapps"`
	ActiveDrivers []struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Worker string `json:"worker"`
	} `json:"activedrivers"`
}

func (c *standalone) state() (masterState, error) {
	var st masterState
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.masterUI+"/json/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Engines launched with -master spark://… run their driver beside the bridge (client deploy
// mode) and their executors in the cluster's worker: the Master grants the engine's
// application the worker's cores, and a query's tasks run there. With a cluster master,
// engines are detached by default: the driver is no child of the bridge, outlives a bridge
// restart, and the next bridge adopts it.
func TestStandaloneClientMode(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "standalone-")
	if err != nil {
		t.Fatal(err)
	}
	cluster := startStandalone(t, dir, 1, "1536m")
	start := func() *bridgeProc {
		t.Helper()
		b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{},
			"-master", cluster.master, "-master-ui-url", cluster.masterUI, "-catalog", "in-memory",
			"-conf", "spark.executor.memory=1g", "-conf", "spark.cores.max=1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.cmd.Process.Kill() })
		return b
	}
	b := start()

	got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT count(*) AS n, sum(id) AS s FROM range(0, 1000000, 1, 4)")
	if strings.Join(got, "\n") != "n,s\n1000000,499999500000" {
		t.Fatalf("beeline printed %q", got)
	}
	st, err := cluster.state()
	if err != nil {
		t.Fatal(err)
	}
	var app string
	for _, a := range st.ActiveApps {
		if strings.HasPrefix(a.Name, "sparkbridge-alice-") && a.State == "RUNNING" && a.Cores == 1 {
			app = a.ID
		}
	}
	if app == "" || len(st.Workers) != 1 || st.Workers[0].CoresUsed != 1 || st.Workers[0].Host != "127.0.0.1" {
		t.Fatalf("alice's engine holds no executor on the worker: %+v", st)
	}
	// The bridge keeps the engine's application id and the Master's view of it.
	eng := onlyEngine(t, b)
	if eng.AppID != app || eng.PID == 0 || eng.Cluster == nil || eng.Cluster.State != "RUNNING" || eng.Cluster.Error != "" {
		t.Fatalf("the bridge's view of alice's engine: %+v, want application %s RUNNING on the Master", eng, app)
	}
	// The detached engine outlives every bridge: the test stops it.
	t.Cleanup(func() { _ = syscall.Kill(-eng.PID, syscall.SIGKILL) })

	// PySpark through the bridge lands on the same engine, hence the same application.
	pyspark := func(b *bridgeProc, query string) []string {
		t.Helper()
		out := runClient(t, 5*time.Minute, filepath.Join(bridge.venv, "bin", "python"), "-c", `
import sys
from pyspark.sql import SparkSession
s = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
print(s.sql(sys.argv[2]).collect()[0][0], s.conf.get("spark.app.id"))
`, "sc://"+b.connectAddr+"/;user_id=alice", query)
		return strings.Fields(out)
	}
	if fields := pyspark(b, "SELECT sum(id) FROM range(0, 100000, 1, 4)"); len(fields) != 2 || fields[0] != "4999950000" || fields[1] != app {
		t.Fatalf("PySpark printed %q, want the sum and application %s", fields, app)
	}
	t.Logf("launch to ready, client mode: %s", engineReadyTook(b.log()))

	beelineAt(t, b.thriftAddr, "alice", "", "CREATE GLOBAL TEMP VIEW kept AS SELECT 7 AS x")
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(eng.PID, 0); err != nil {
		t.Fatalf("the detached client-mode engine stopped with the bridge: %v", err)
	}
	b = start()
	if got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT x FROM global_temp.kept"); strings.Join(got, "\n") != "x\n7" {
		t.Fatalf("after a restart, beeline printed %q", got)
	}
	if fields := pyspark(b, "SELECT x FROM global_temp.kept"); len(fields) != 2 || fields[0] != "7" || fields[1] != app {
		t.Fatalf("after a restart, PySpark printed %q, want 7 on application %s", fields, app)
	}
	if again := onlyEngine(t, b); again.ID != eng.ID || again.PID != eng.PID || !strings.Contains(b.log(), "adopted a running engine") {
		t.Fatalf("after a restart the bridge runs %+v, want the adopted %s (pid %d)", again, eng.ID, eng.PID)
	}
	if st, err := cluster.state(); err != nil || len(st.ActiveApps) != 1 || st.ActiveApps[0].ID != app {
		t.Fatalf("after a restart the cluster runs %+v (%v), want application %s alone", st.ActiveApps, err, app)
	}
}

// apiEngine is an engine as the admin API lists it.
type apiEngine struct {
	ID      string `json:"id"`
	AppID   string `json:"app_id"`
	PID     int    `json:"pid"`
	State   string `json:"state"`
	Cluster *struct {
		State string `json:"state"`
		Host  string `json:"host"`
		Error string `json:"error"`
	} `json:"cluster"`
}

// onlyEngine is the one engine b runs, as its admin API shows it.
func onlyEngine(t *testing.T, b *bridgeProc) apiEngine {
	t.Helper()
	var r struct {
		Engines []apiEngine `json:"engines"`
	}
	if code := adminCall(t, b, http.MethodGet, "/api/v1/engines", &r); code != http.StatusOK || len(r.Engines) != 1 {
		t.Fatalf("GET /api/v1/engines: %d %+v", code, r)
	}
	return r.Engines[0]
}

// In cluster deploy mode the standalone Master runs the engine's driver on the worker. The
// bridge does not know where: the driver's JVM plugin registers its Connect address and
// application id, the bridge reaches the engine there, and beeline and PySpark both run
// queries on it. The driver is no child of the bridge; stopping the bridge (engines not
// detached) kills it through the Master.
func TestStandaloneClusterMode(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "standalone-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	cluster := startStandalone(t, dir, 2, "2560m")
	b, err := clusterModeBridge(dir, cluster, "-engine-detach", "false")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = b.stop()
		}
	}()

	got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT count(*) AS n, sum(id) AS s FROM range(0, 1000000, 1, 4)")
	if strings.Join(got, "\n") != "n,s\n1000000,499999500000" {
		t.Fatalf("beeline printed %q", got)
	}
	st, err := cluster.state()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ActiveDrivers) != 1 || st.ActiveDrivers[0].State != "RUNNING" || len(st.ActiveApps) != 1 ||
		!strings.HasPrefix(st.ActiveApps[0].Name, "sparkbridge-alice-") {
		t.Fatalf("the Master runs no driver for alice's engine: %+v", st)
	}
	app := st.ActiveApps[0].ID
	if pids := b.enginePIDs(); len(pids) != 0 {
		t.Fatalf("the engine's driver is a child of the bridge (%v): not cluster mode", pids)
	}
	if !strings.Contains(b.log(), app) {
		t.Fatalf("the bridge never heard of application %s; log:\n%s", app, b.logTail(40))
	}
	// The Master's view, kept by the bridge: the driver runs on the worker's host.
	if eng := onlyEngine(t, b); eng.AppID != app || eng.PID != 0 || eng.Cluster == nil || eng.Cluster.State != "RUNNING" ||
		eng.Cluster.Host != "127.0.0.1" {
		t.Fatalf("the bridge's view of alice's engine: %+v, want application %s RUNNING on 127.0.0.1", eng, app)
	}

	out := runClient(t, 5*time.Minute, filepath.Join(bridge.venv, "bin", "python"), "-c", `
import sys
from pyspark.sql import SparkSession
s = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
print(s.range(0, 100000, 1, 4).selectExpr("sum(id) AS s").collect()[0].s, s.conf.get("spark.app.id"))
`, "sc://"+b.connectAddr+"/;user_id=alice")
	if fields := strings.Fields(out); len(fields) != 2 || fields[0] != "4999950000" || fields[1] != app {
		t.Fatalf("PySpark printed %q, want the sum and application %s", out, app)
	}
	t.Logf("launch to ready, cluster mode: %s", engineReadyTook(b.log()))

	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		st, err := cluster.state()
		if err == nil && len(st.ActiveDrivers) == 0 && len(st.ActiveApps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine's driver outlived the bridge: %+v", st)
		}
	}
}

// engineReadyTook returns the launch-to-ready times the bridge logged.
func engineReadyTook(log string) string {
	var took []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "engine ready") {
			if _, v, ok := strings.Cut(l, "took="); ok {
				took = append(took, strings.Fields(v)[0])
			}
		}
	}
	return strings.Join(took, ", ")
}

// A cluster-mode engine is no child of the bridge, so it must never be orphaned: with every
// bridge gone (killed with SIGKILL, no chance to stop anything), the engine stops itself
// after its idle timeout.
func TestStandaloneEngineStopsItselfWhenIdle(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "standalone-idle-")
	if err != nil {
		t.Fatal(err)
	}
	cluster := startStandalone(t, dir, 2, "2560m")
	b, err := clusterModeBridge(dir, cluster, "-engine-idle-timeout", "15s")
	if err != nil {
		t.Fatal(err)
	}
	if got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT 42 AS answer"); strings.Join(got, "\n") != "answer\n42" {
		t.Fatalf("beeline printed %q", got)
	}
	_ = b.cmd.Process.Kill()
	_, _ = b.cmd.Process.Wait()
	st, err := cluster.state()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ActiveDrivers) != 1 || st.ActiveDrivers[0].State != "RUNNING" {
		t.Fatalf("alice's driver is not running after the bridge died: %+v", st)
	}
	start := time.Now()
	for deadline := start.Add(3 * time.Minute); ; time.Sleep(time.Second) {
		st, err := cluster.state()
		if err == nil && len(st.ActiveDrivers) == 0 && len(st.ActiveApps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphaned engine never stopped itself: %+v", st)
		}
	}
	t.Logf("the orphaned engine stopped itself %s after the bridge died (idle timeout 15s)", time.Since(start).Round(time.Second))
}

// A detached engine outlives its bridge: after a clean restart, and after the bridge is
// killed with SIGKILL, the next bridge adopts it, and alice's beeline and PySpark sessions
// land on the same Spark application, her global temp view still there.
func TestDetachedEngineSurvivesBridgeRestarts(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "standalone-detach-")
	if err != nil {
		t.Fatal(err)
	}
	cluster := startStandalone(t, dir, 2, "2560m")
	start := func() *bridgeProc {
		t.Helper()
		b, err := clusterModeBridge(dir, cluster)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.cmd.Process.Kill() })
		return b
	}
	b := start()
	beelineAt(t, b.thriftAddr, "alice", "", "CREATE GLOBAL TEMP VIEW kept AS SELECT 7 AS x")
	st, err := cluster.state()
	if err != nil || len(st.ActiveApps) != 1 {
		t.Fatalf("cluster state %+v, %v", st, err)
	}
	app := st.ActiveApps[0].ID

	check := func(b *bridgeProc, how string) {
		t.Helper()
		if got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT x FROM global_temp.kept"); strings.Join(got, "\n") != "x\n7" {
			t.Fatalf("after %s, beeline printed %q", how, got)
		}
		out := runClient(t, 5*time.Minute, filepath.Join(bridge.venv, "bin", "python"), "-c", `
import sys
from pyspark.sql import SparkSession
s = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
print(s.sql("SELECT x FROM global_temp.kept").collect()[0].x, s.conf.get("spark.app.id"))
`, "sc://"+b.connectAddr+"/;user_id=alice")
		if fields := strings.Fields(out); len(fields) != 2 || fields[0] != "7" || fields[1] != app {
			t.Fatalf("after %s, PySpark printed %q, want 7 on application %s", how, out, app)
		}
		if st, err := cluster.state(); err != nil || len(st.ActiveApps) != 1 || st.ActiveApps[0].ID != app {
			t.Fatalf("after %s, the cluster runs %+v (%v), want application %s alone", how, st.ActiveApps, err, app)
		}
		if !strings.Contains(b.log(), "adopted a running engine") {
			t.Fatalf("after %s, the bridge did not adopt the engine; log:\n%s", how, b.logTail(30))
		}
	}

	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	b = start()
	check(b, "a clean restart")

	_ = b.cmd.Process.Kill()
	_, _ = b.cmd.Process.Wait()
	b = start()
	check(b, "SIGKILL and a restart")
}

// A cluster-mode driver that dies is noticed at the bridge's next liveness probe, through the
// Master's view of it: the engine is reported lost and forgotten, and the next query launches a new engine (a new application).
func TestStandaloneLostDriverIsReplaced(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "standalone-lost-")
	if err != nil {
		t.Fatal(err)
	}
	cluster := startStandalone(t, dir, 2, "2560m")
	b, err := clusterModeBridge(dir, cluster, "-engine-liveness-interval", "2s")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.cmd.Process.Kill() }()
	if got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT 1 AS one"); strings.Join(got, "\n") != "one\n1" {
		t.Fatalf("beeline printed %q", got)
	}
	st, err := cluster.state()
	if err != nil || len(st.ActiveDrivers) != 1 || len(st.ActiveApps) != 1 {
		t.Fatalf("cluster state %+v, %v", st, err)
	}
	first := st.ActiveApps[0].ID
	kill := exec.Command(filepath.Join(bridge.sparkHome, "bin", "spark-class"), "org.apache.spark.deploy.Client", "kill", cluster.master, st.ActiveDrivers[0].ID)
	kill.Env = append(os.Environ(), "SPARK_HOME="+bridge.sparkHome, "SPARK_LOCAL_IP=127.0.0.1")
	if out, err := kill.CombinedOutput(); err != nil {
		t.Fatalf("killing the driver: %v\n%s", err, out)
	}
	// The Master reports the driver KILLED at the next liveness probe: the engine is lost at
	// once, not three failed probes later.
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(b.log(), "its cluster manager reports it KILLED"); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("the bridge never noticed the dead driver; log:\n%s", b.logTail(30))
		}
	}
	if got := beelineAt(t, b.thriftAddr, "alice", "", "SELECT 2 AS two"); strings.Join(got, "\n") != "two\n2" {
		t.Fatalf("after the driver died, beeline printed %q", got)
	}
	st, err = cluster.state()
	if err != nil || len(st.ActiveApps) != 1 || st.ActiveApps[0].ID == first || st.ActiveApps[0].State != "RUNNING" {
		t.Fatalf("no new engine after the driver died (first %s): %+v, %v", first, st.ActiveApps, err)
	}
}

// clusterModeBridge starts a bridge that launches engines in cluster deploy mode on cluster,
// with this machine's rule (servers bind loopback) in the engines' confs: a real cluster
// leaves the binding address unset or names the cluster network.
func clusterModeBridge(dir string, cluster *standalone, extra ...string) (*bridgeProc, error) {
	args := append([]string{"-master", cluster.master, "-master-ui-url", cluster.masterUI, "-deploy-mode", "cluster", "-catalog", "in-memory",
		"-conf", "spark.connect.grpc.binding.address=127.0.0.1",
		"-conf", "spark.driver.host=127.0.0.1", "-conf", "spark.driver.bindAddress=127.0.0.1",
		"-conf", "spark.executor.memory=1g", "-conf", "spark.executor.cores=1"}, extra...)
	return startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{}, args...)
}
