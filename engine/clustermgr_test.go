package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCLIs writes stand-ins for spark-submit, yarn and kubectl that record each call: its
// arguments (one per line), its SPARK_* environment, and a copy of any file it is handed
// (--files, --from-env-file) with that file's mode. It returns the Spark home and the record
// directory; each call is record/N-TOOL.
func fakeCLIs(t *testing.T, yarnStatus, kubectlOut string) (home, rec string) {
	t.Helper()
	dir := t.TempDir()
	home, rec = filepath.Join(dir, "spark"), filepath.Join(dir, "record")
	for _, d := range []string{filepath.Join(home, "bin"), rec} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	recorder := `#!/usr/bin/env bash
n=$(ls "$REC" | grep -c '[.]args$'); out="$REC/$(printf %03d $n)-$(basename "$0")"
printf '%s\n' "$@" > "$out.args"
env | grep '^SPARK_' | sort > "$out.env"
for a in "$@"; do
  case "$a" in
    --from-env-file=*) f="${a#--from-env-file=}";;
    *'#'*) f="${a%%#*}";;
    *) continue;;
  esac
  # The mode first, then the copy, renamed into place: a reader that sees .file sees both whole.
  stat -c %a "$f" > "$out.mode"; cp "$f" "$out.tmp"; mv "$out.tmp" "$out.file"
done
`
	scripts := map[string]string{
		filepath.Join(home, "bin", "spark-submit"): recorder,
		filepath.Join(dir, "yarn"):                 recorder + "[ \"$2\" = -status ] && printf '%s' \"$YARN_STATUS\"\nexit 0\n",
		filepath.Join(dir, "kubectl"):              recorder + "[ \"$1\" = get ] && printf '%s' \"$KUBECTL_OUT\"\nexit 0\n",
	}
	for path, body := range scripts {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("REC", rec)
	t.Setenv("YARN_STATUS", yarnStatus)
	t.Setenv("KUBECTL_OUT", kubectlOut)
	return home, rec
}

// calls returns the recorded calls of tool, in order, as their argument lists.
func calls(t *testing.T, rec, tool string) [][]string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(rec, "*-"+tool+".args"))
	var out [][]string
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimRight(string(b), "\n"), "\n"))
	}
	return out
}

func recorded(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// secretsOf reads KEY=VALUE lines.
func secretsOf(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// register plays the driver: it waits for spark-submit's call, takes the launch token from
// where secretOf finds it, and registers with reg.
func register(t *testing.T, r *Registrar, rec string, secretOf func() string, appID string) chan error {
	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if token := secretOf(); token != "" {
				req := httptest.NewRequest(http.MethodPost, "/engines/register",
					strings.NewReader(fmt.Sprintf(`{"host":"node7","port":41000,"app_id":%q}`, appID)))
				req.Header.Set("Authorization", "Bearer "+token)
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					done <- fmt.Errorf("registration: %d %s", w.Code, w.Body)
				}
				done <- nil
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		done <- fmt.Errorf("spark-submit was never called with a launch token")
	}()
	return done
}

func argValue(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

func assertNoSecretOnArgv(t *testing.T, rec string, secrets map[string]string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(rec, "*.args"))
	for _, m := range matches {
		for _, s := range secrets {
			if s != "" && strings.Contains(recorded(t, m), s) {
				t.Fatalf("a secret on the command line of %s", filepath.Base(m))
			}
		}
	}
}

// A YARN cluster-mode driver gets its secrets in a 0600 file shipped with --files (removed
// from the bridge's host after the launch), spark-submit does not wait for the application,
// and the engine is killed and watched with the yarn command line by its application id.
func TestYarnClusterLaunch(t *testing.T) {
	home, rec := fakeCLIs(t, "Application Report : \n\tApplication-Id : application_1_0007\n\tState : RUNNING\n\tAM Host : node7\n", "")
	cfg := DefaultConfig()
	cfg.SparkHome, cfg.Master, cfg.DeployMode = home, "yarn", DeployCluster
	cfg.LogDir, cfg.PluginJar, cfg.RegisterURL = t.TempDir(), "/opt/sparkbridge.jar", "http://bridge:9999/engines/register"
	cfg.YarnCommand = filepath.Join(filepath.Dir(home), "yarn")
	l := NewSparkSubmit(cfg)
	l.Registrar = NewRegistrar()
	done := register(t, l.Registrar, rec, func() string {
		b, err := os.ReadFile(filepath.Join(rec, "000-spark-submit.file"))
		if err != nil {
			return ""
		}
		return secretsOf(string(b))[LaunchTokenEnv]
	}, "application_1_0007")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proc, err := l.Launch(ctx, Spec{Name: "alice-1", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cp := proc.(*clusterProcess)
	if cp.Addr() != "node7:41000" || cp.AppID() != "application_1_0007" || cp.driverID != "application_1_0007" {
		t.Fatalf("process %+v", cp)
	}
	args := calls(t, rec, "spark-submit")[0]
	files := argValue(args, "--files")
	if len(files) != 1 || !strings.HasSuffix(files[0], "#"+SecretsFile) {
		t.Fatalf("--files %v", files)
	}
	if _, err := os.Stat(strings.TrimSuffix(files[0], "#"+SecretsFile)); !os.IsNotExist(err) {
		t.Fatalf("the secrets file is still on the bridge's host: %v", err)
	}
	if mode := strings.TrimSpace(recorded(t, filepath.Join(rec, "000-spark-submit.mode"))); mode != "600" {
		t.Fatalf("secrets file mode %s", mode)
	}
	secrets := secretsOf(recorded(t, filepath.Join(rec, "000-spark-submit.file")))
	if secrets[TokenEnv] != cp.Token() || secrets[LaunchTokenEnv] == "" {
		t.Fatalf("secrets file holds %v", secrets)
	}
	confs := strings.Join(argValue(args, "--conf"), "\n")
	for _, want := range []string{secretsFileConf + "=" + SecretsFile, "spark.yarn.submit.waitAppCompletion=false",
		"spark.plugins=" + RegistrationPlugin, registerURLConf + "=" + cfg.RegisterURL} {
		if !strings.Contains(confs, want) {
			t.Errorf("no --conf %s in\n%s", want, confs)
		}
	}
	if args[len(args)-1] != cfg.PluginJar || strings.Join(argValue(args, "--deploy-mode"), "") != DeployCluster {
		t.Fatalf("args %v", args)
	}
	if env := recorded(t, filepath.Join(rec, "000-spark-submit.env")); strings.Contains(env, cp.Token()) {
		t.Fatalf("a YARN driver's secret in spark-submit's environment: %s", env)
	}

	st, err := cp.cm.status(context.Background(), cp.ref())
	if err != nil || st.State != "RUNNING" || st.Host != "node7" {
		t.Fatalf("status %+v, %v", st, err)
	}
	if err := proc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	yarn := calls(t, rec, "yarn")
	if got := strings.Join(yarn[len(yarn)-1], " "); got != "application -kill application_1_0007" {
		t.Fatalf("kill: yarn %s", got)
	}
	assertNoSecretOnArgv(t, rec, secrets)
}

// A Kubernetes cluster-mode driver reads its secrets from a Kubernetes secret the bridge
// creates from a 0600 file; the bridge names the driver pod, and kills it (deleting the
// secret) as NAMESPACE:POD.
func TestKubernetesClusterLaunch(t *testing.T) {
	home, rec := fakeCLIs(t, "", "Running node3")
	cfg := DefaultConfig()
	cfg.SparkHome, cfg.Master, cfg.DeployMode = home, "k8s://https://api.example:6443", DeployCluster
	cfg.LogDir, cfg.PluginJar, cfg.RegisterURL = t.TempDir(), "/opt/sparkbridge.jar", "http://bridge:9999/engines/register"
	cfg.EngineJarURI = "local:///opt/sparkbridge/sparkbridge-jvm.jar"
	cfg.MasterConf = map[string]map[string]string{"k8s": {"spark.kubernetes.namespace": "spark-engines"}}
	cfg.Kubectl = filepath.Join(filepath.Dir(home), "kubectl")
	l := NewSparkSubmit(cfg)
	l.Registrar = NewRegistrar()
	done := register(t, l.Registrar, rec, func() string {
		if _, err := os.Stat(filepath.Join(rec, "001-spark-submit.args")); err != nil {
			return ""
		}
		b, err := os.ReadFile(filepath.Join(rec, "000-kubectl.file"))
		if err != nil {
			return ""
		}
		return secretsOf(string(b))[LaunchTokenEnv]
	}, "spark-0123")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proc, err := l.Launch(ctx, Spec{Name: "Alice_1", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cp := proc.(*clusterProcess)
	create := calls(t, rec, "kubectl")[0]
	if len(create) != 7 || strings.Join(create[:3], " ") != "create secret generic" || create[4] != "-n" || create[5] != "spark-engines" {
		t.Fatalf("kubectl %v", create)
	}
	secret := create[3]
	pod := strings.TrimSuffix(secret, "-secrets")
	if !strings.HasPrefix(pod, "sparkbridge-alice-1-") || cp.driverID != "spark-engines:"+pod {
		t.Fatalf("pod %s, driver %s", pod, cp.driverID)
	}
	if mode := strings.TrimSpace(recorded(t, filepath.Join(rec, "000-kubectl.mode"))); mode != "600" {
		t.Fatalf("env file mode %s", mode)
	}
	secrets := secretsOf(recorded(t, filepath.Join(rec, "000-kubectl.file")))
	if secrets[TokenEnv] != cp.Token() {
		t.Fatalf("secret holds %v", secrets)
	}
	args := calls(t, rec, "spark-submit")[0]
	confs := strings.Join(argValue(args, "--conf"), "\n")
	for _, want := range []string{
		"spark.kubernetes.driver.secretKeyRef." + TokenEnv + "=" + secret + ":" + TokenEnv,
		"spark.kubernetes.driver.secretKeyRef." + LaunchTokenEnv + "=" + secret + ":" + LaunchTokenEnv,
		"spark.kubernetes.driver.pod.name=" + pod, "spark.kubernetes.submission.waitAppCompletion=false",
		"spark.jars=" + cfg.EngineJarURI,
	} {
		if !strings.Contains(confs, want) {
			t.Errorf("no --conf %s in\n%s", want, confs)
		}
	}
	if args[len(args)-1] != cfg.EngineJarURI {
		t.Fatalf("primary resource %s", args[len(args)-1])
	}
	st, err := cp.cm.status(context.Background(), cp.ref())
	if err != nil || st.State != "Running" || st.Host != "node3" {
		t.Fatalf("status %+v, %v", st, err)
	}
	if err := proc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	submits := calls(t, rec, "spark-submit")
	if got := strings.Join(submits[len(submits)-1], " "); got != "--master "+cfg.Master+" --kill spark-engines:"+pod {
		t.Fatalf("kill: spark-submit %s", got)
	}
	kubectl := calls(t, rec, "kubectl")
	if got := strings.Join(kubectl[len(kubectl)-1], " "); got != "delete secret "+secret+" -n spark-engines --ignore-not-found" {
		t.Fatalf("kill: kubectl %s", got)
	}
	assertNoSecretOnArgv(t, rec, secrets)
}

// The standalone Master's view: a cluster-mode driver's state and its worker's host, a
// client-mode application's state.
func TestStandaloneStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/json/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"workers":[{"id":"worker-1","host":"10.0.0.8"},{"id":"worker-2","host":"10.0.0.9"}],
			"activedrivers":[{"id":"driver-20261130000000-0001","state":"RUNNING","worker":"worker-2"}],
			"completeddrivers":[{"id":"driver-20261130000000-0000","state":"KILLED","worker":"worker-1"}],
			"activeapps":[{"id":"app-20261130000000-0003","state":"RUNNING"}],"completedapps":[]}`)
	}))
	defer srv.Close()
	cm := newClusterManager(Config{MasterUI: srv.URL + "/"}, "/spark", "spark://127.0.0.1:7077")
	for _, tc := range []struct {
		ref  driverRef
		want DriverStatus
	}{
		{driverRef{DriverID: "driver-20261130000000-0001"}, DriverStatus{State: "RUNNING", Host: "10.0.0.9"}},
		{driverRef{DriverID: "driver-20261130000000-0000"}, DriverStatus{State: "KILLED", Host: "10.0.0.8"}},
		{driverRef{AppID: "app-20261130000000-0003"}, DriverStatus{State: "RUNNING"}},
	} {
		got, err := cm.status(context.Background(), tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("%+v: %+v, %v", tc.ref, got, err)
		}
	}
	if _, err := cm.status(context.Background(), driverRef{DriverID: "driver-x"}); err == nil {
		t.Error("an unknown driver has a status")
	}
	if got := standaloneUI("", "spark://m1:7077,m2:7077"); got != "http://m1:8080" {
		t.Errorf("default UI %s", got)
	}
	if !(DriverStatus{State: "KILLED"}).Ended() || (DriverStatus{State: "RUNNING"}).Ended() {
		t.Error("Ended")
	}
}
