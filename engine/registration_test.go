package engine

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A driver registers once with its launch's token; anything else is refused with a reason.
func TestRegistrar(t *testing.T) {
	r := NewRegistrar()
	srv := httptest.NewServer(r)
	defer srv.Close()
	ch, forget := r.expect("launch-secret")
	defer forget()
	post := func(method, auth, body string) int {
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := `{"host":"127.0.0.1","port":41234,"app_id":"app-20261130211530-0001"}`
	for name, c := range map[string]struct {
		method, auth, body string
		want               int
	}{
		"GET":          {http.MethodGet, "Bearer launch-secret", good, http.StatusMethodNotAllowed},
		"no token":     {http.MethodPost, "", good, http.StatusUnauthorized},
		"wrong token":  {http.MethodPost, "Bearer guess", good, http.StatusForbidden},
		"no port":      {http.MethodPost, "Bearer launch-secret", `{"host":"h","app_id":"a"}`, http.StatusBadRequest},
		"bad port":     {http.MethodPost, "Bearer launch-secret", `{"host":"h","port":70000,"app_id":"a"}`, http.StatusBadRequest},
		"not JSON":     {http.MethodPost, "Bearer launch-secret", `host=h`, http.StatusBadRequest},
		"oversized":    {http.MethodPost, "Bearer launch-secret", `{"host":"` + strings.Repeat("h", maxRegistration) + `","port":1}`, http.StatusBadRequest},
		"empty bearer": {http.MethodPost, "Bearer ", good, http.StatusUnauthorized},
	} {
		if got := post(c.method, c.auth, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
	select {
	case reg := <-ch:
		t.Fatalf("a refused request registered %+v", reg)
	default:
	}
	if got := post(http.MethodPost, "Bearer launch-secret", good); got != http.StatusNoContent {
		t.Fatalf("registration: %d", got)
	}
	reg := <-ch
	if reg.Addr() != "127.0.0.1:41234" || reg.AppID != "app-20261130211530-0001" {
		t.Fatalf("registered %+v", reg)
	}
	if got := post(http.MethodPost, "Bearer launch-secret", good); got != http.StatusForbidden {
		t.Fatalf("a spent token registered again: %d", got)
	}
}

// In cluster deploy mode the driver's host and bind address are the cluster's, and its
// Connect server takes any free port and registers it; a binding address set in the confs is
// kept. In client mode the bridge owns all of them.
func TestClusterModeConf(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SparkConf = map[string]string{"spark.connect.grpc.binding.address": "10.0.0.5", "spark.driver.host": "from-conf"}
	cfg.DeployMode = DeployCluster
	conf := NewSparkSubmit(cfg).engineConf(Spec{}, 0)
	if conf["spark.connect.grpc.binding.port"] != "0" || conf["spark.connect.grpc.binding.address"] != "10.0.0.5" ||
		conf["spark.driver.host"] != "from-conf" || conf["spark.driver.bindAddress"] != "" {
		t.Fatalf("cluster mode conf: %v", conf)
	}
	cfg.DeployMode = DeployClient
	conf = NewSparkSubmit(cfg).engineConf(Spec{}, 4321)
	if conf["spark.connect.grpc.binding.port"] != "4321" || conf["spark.connect.grpc.binding.address"] != "127.0.0.1" ||
		conf["spark.driver.host"] != "127.0.0.1" {
		t.Fatalf("client mode conf: %v", conf)
	}
}

// A master's kind picks its launch confs, over the general ones.
func TestMasterConf(t *testing.T) {
	for master, kind := range map[string]string{"local[*]": "local", "": "local", "spark://h:7077": "spark", "yarn": "yarn",
		"k8s://https://api:6443": "k8s", "mesos://h:5050": "mesos"} {
		if got := MasterKind(master); got != kind {
			t.Errorf("MasterKind(%q) = %q, want %q", master, got, kind)
		}
	}
	cfg := DefaultConfig()
	cfg.Master = "yarn"
	cfg.SparkConf = map[string]string{"spark.yarn.queue": "default", "spark.executor.memory": "2g"}
	cfg.MasterConf = map[string]map[string]string{"yarn": {"spark.yarn.queue": "etl"}, "k8s": {"spark.kubernetes.namespace": "spark"}}
	conf := NewSparkSubmit(cfg).engineConf(Spec{}, 1)
	if conf["spark.yarn.queue"] != "etl" || conf["spark.executor.memory"] != "2g" || conf["spark.kubernetes.namespace"] != "" {
		t.Fatalf("yarn engine conf: %v", conf)
	}
}

// Both deploy modes build spark-submit's command line the same way, and no secret is on it.
func TestSubmitArgs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Master, cfg.DriverMemory, cfg.ProxyUser = "spark://127.0.0.1:7077", "2g", true
	l := NewSparkSubmit(cfg)
	got := strings.Join(l.submitArgs(Spec{Name: "alice-1", User: "alice"}, DeployCluster, ClusterServerClass,
		map[string]string{"spark.b": "2", "spark.a": "1"}), " ")
	want := "--master spark://127.0.0.1:7077 --deploy-mode cluster --driver-memory 2g --proxy-user alice --name sparkbridge-alice-1 " +
		"--class " + ClusterServerClass + " --conf spark.a=1 --conf spark.b=2"
	if got != want {
		t.Fatalf("args\n got %s\nwant %s", got, want)
	}
	cfg.DeployMode = DeployCluster
	cfg.SparkConf = map[string]string{"spark.connect.authenticate.token": "leak"}
	for _, a := range NewSparkSubmit(cfg).submitArgs(Spec{Name: "x"}, DeployCluster, ClusterServerClass, NewSparkSubmit(cfg).engineConf(Spec{}, 0)) {
		if strings.Contains(a, "leak") {
			t.Fatalf("a secret on the command line: %s", a)
		}
	}
}
