package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// DriverStatus is a cluster manager's view of an engine's driver: the state in its own
// words and the host it placed the driver on.
type DriverStatus struct {
	// State is the cluster manager's word for the driver or application: SUBMITTED,
	// RUNNING, FINISHED, FAILED, KILLED… (standalone, YARN), Pending, Running, Succeeded,
	// Failed (a Kubernetes pod phase).
	State string
	// Host is where the driver runs.
	Host string
	// Checked is when the cluster manager was last asked; Err says why that failed, if it did.
	Checked time.Time
	Err     string
}

// Ended reports whether the cluster manager says the driver is gone for good.
func (s DriverStatus) Ended() bool {
	switch strings.ToUpper(s.State) {
	case "FINISHED", "FAILED", "KILLED", "ERROR", "SUCCEEDED":
		return true
	}
	return false
}

// driverRef names a driver to its cluster manager: the driver id (a standalone driver id,
// a YARN application id, or NAMESPACE:POD on Kubernetes) and the Spark application id.
type driverRef struct {
	DriverID string
	AppID    string
}

// clusterManager reaches the cluster manager of an engine's master: to stop a driver the
// bridge does not run itself, and to read its view of one.
type clusterManager interface {
	kill(ctx context.Context, d driverRef, log io.Writer) error
	status(ctx context.Context, d driverRef) (DriverStatus, error)
}

// newClusterManager is the cluster manager of master, or nil for a local master.
func newClusterManager(cfg Config, home, master string) clusterManager {
	switch MasterKind(master) {
	case "spark":
		return &standaloneManager{home: home, master: master, ui: standaloneUI(cfg.MasterUI, master)}
	case "yarn":
		return &yarnManager{cmd: orDefault(cfg.YarnCommand, "yarn")}
	case "k8s":
		return &k8sManager{home: home, master: master, kubectl: orDefault(cfg.Kubectl, "kubectl")}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// standaloneUI is the standalone Master's web UI: ui when set, else port 8080 of the
// master's host.
func standaloneUI(ui, master string) string {
	if ui != "" {
		return strings.TrimRight(ui, "/")
	}
	hostport := strings.TrimPrefix(master, "spark://")
	// A master URL may list several masters (HA); the first is asked.
	hostport, _, _ = strings.Cut(hostport, ",")
	host := hostport
	if i := strings.LastIndex(hostport, ":"); i >= 0 {
		host = hostport[:i]
	}
	return "http://" + host + ":8080"
}

// runLogged runs a cluster manager's command line with its output in log.
func runLogged(ctx context.Context, log io.Writer, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	w := io.Writer(&out)
	if log != nil {
		w = io.MultiWriter(&out, log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, lastLines(out.String(), 5))
	}
	return nil
}

// output runs a command line and returns its standard output.
func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return string(out), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// standaloneManager is a Spark standalone Master.
type standaloneManager struct {
	home, master string
	// ui is the Master's web UI, whose /json/ lists its workers, drivers and applications.
	ui string
}

// kill uses the standalone client's kill, which, unlike spark-submit --kill, needs no REST
// submission server. Only a cluster-mode driver has a driver id; a client-mode engine is
// stopped as a process.
func (m *standaloneManager) kill(ctx context.Context, d driverRef, log io.Writer) error {
	if d.DriverID == "" {
		return fmt.Errorf("no driver id to kill on %s", m.master)
	}
	return runLogged(ctx, log, []string{"SPARK_HOME=" + m.home}, filepath.Join(m.home, "bin", "spark-class"),
		"org.apache.spark.deploy.Client", "kill", m.master, d.DriverID)
}

// standaloneState is the part of the Master's /json/ the bridge reads.
type standaloneState struct {
	Workers []struct {
		ID   string `json:"id"`
		Host string `json:"host"`
	} `json:"workers"`
	ActiveDrivers    []standaloneDriver `json:"activedrivers"`
	CompletedDrivers []standaloneDriver `json:"completeddrivers"`
	ActiveApps       []standaloneApp    `json:"activeapps"`
	CompletedApps    []standaloneApp    `json:"completedapps"`
}

type standaloneDriver struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Worker string `json:"worker"`
}

type standaloneApp struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// status finds the driver (cluster mode) or the application (client mode) in the Master's
// state. A client-mode application's host is not the Master's to know.
func (m *standaloneManager) status(ctx context.Context, d driverRef) (DriverStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.ui+"/json/", nil)
	if err != nil {
		return DriverStatus{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return DriverStatus{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return DriverStatus{}, fmt.Errorf("%s/json/: %s", m.ui, resp.Status)
	}
	var st standaloneState
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&st); err != nil {
		return DriverStatus{}, fmt.Errorf("%s/json/: %w", m.ui, err)
	}
	if d.DriverID != "" {
		for _, dr := range append(st.ActiveDrivers, st.CompletedDrivers...) {
			if dr.ID != d.DriverID {
				continue
			}
			out := DriverStatus{State: dr.State}
			for _, w := range st.Workers {
				if w.ID == dr.Worker {
					out.Host = w.Host
				}
			}
			return out, nil
		}
		return DriverStatus{}, fmt.Errorf("the master at %s does not know driver %s", m.ui, d.DriverID)
	}
	for _, app := range append(st.ActiveApps, st.CompletedApps...) {
		if app.ID == d.AppID {
			return DriverStatus{State: app.State}, nil
		}
	}
	return DriverStatus{}, fmt.Errorf("the master at %s does not know application %s", m.ui, d.AppID)
}

// yarnManager is a YARN ResourceManager, reached with the yarn command line, which reads the
// Hadoop configuration and credentials of the bridge's host.
type yarnManager struct{ cmd string }

func (m *yarnManager) kill(ctx context.Context, d driverRef, log io.Writer) error {
	if d.AppID == "" {
		return fmt.Errorf("no YARN application id to kill")
	}
	return runLogged(ctx, log, nil, m.cmd, "application", "-kill", d.AppID)
}

// status reads `yarn application -status`: its "State" and "AM Host" lines.
func (m *yarnManager) status(ctx context.Context, d driverRef) (DriverStatus, error) {
	out, err := output(ctx, m.cmd, "application", "-status", d.AppID)
	if err != nil {
		return DriverStatus{}, err
	}
	return parseYarnStatus(out), nil
}

func parseYarnStatus(out string) DriverStatus {
	var st DriverStatus
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "State":
			st.State = strings.TrimSpace(v)
		case "AM Host":
			st.Host = strings.TrimSpace(v)
		}
	}
	return st
}

// k8sManager is a Kubernetes cluster. A driver id is NAMESPACE:POD, as spark-submit --kill
// takes it.
type k8sManager struct{ home, master, kubectl string }

func (m *k8sManager) kill(ctx context.Context, d driverRef, log io.Writer) error {
	ns, pod, ok := strings.Cut(d.DriverID, ":")
	if !ok {
		return fmt.Errorf("driver id %q is not NAMESPACE:POD", d.DriverID)
	}
	err := runLogged(ctx, log, []string{"SPARK_HOME=" + m.home}, filepath.Join(m.home, "bin", "spark-submit"),
		"--master", m.master, "--kill", d.DriverID)
	// The driver's secrets go with it.
	if derr := runLogged(ctx, log, nil, m.kubectl, "delete", "secret", k8sSecretName(pod), "-n", ns, "--ignore-not-found"); err == nil {
		err = derr
	}
	return err
}

func (m *k8sManager) status(ctx context.Context, d driverRef) (DriverStatus, error) {
	ns, pod, ok := strings.Cut(d.DriverID, ":")
	if !ok {
		return DriverStatus{}, fmt.Errorf("driver id %q is not NAMESPACE:POD", d.DriverID)
	}
	out, err := output(ctx, m.kubectl, "get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.phase} {.spec.nodeName}")
	if err != nil {
		return DriverStatus{}, err
	}
	phase, node, _ := strings.Cut(strings.TrimSpace(out), " ")
	return DriverStatus{State: phase, Host: node}, nil
}

// k8sSecretName is the Kubernetes secret that holds a driver pod's engine secrets.
func k8sSecretName(pod string) string { return pod + "-secrets" }

// k8sName turns name into a DNS-1123 label of at most max characters.
func k8sName(name string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > max {
		s = strings.TrimRight(s[:max], "-")
	}
	return s
}

// clusterOf is the cluster manager of an engine launched on master, and how it names the
// engine's driver: a cluster-mode driver by what it registered, a client-mode engine by its
// application (whose executors the cluster manager runs). A local master, and a client-mode
// engine on Kubernetes (whose driver is no pod), have none.
func (m *Manager) clusterOf(proc Process, master, appID string) (clusterManager, driverRef) {
	if cp, ok := proc.(*clusterProcess); ok {
		return cp.cm, cp.ref()
	}
	switch MasterKind(master) {
	case "spark", "yarn":
		return newClusterManager(m.cfg, m.cfg.SparkHome, master), driverRef{AppID: appID}
	}
	return nil, driverRef{}
}

// refreshCluster asks the cluster manager for its view of eng's driver and keeps it; a
// failed check keeps the last view, with the error.
func (m *Manager) refreshCluster(ctx context.Context, eng *Engine) DriverStatus {
	if eng.cm == nil {
		return DriverStatus{}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := eng.cm.status(ctx, eng.ref)
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if err != nil {
		eng.cluster.Err = err.Error()
	} else {
		eng.cluster = st
	}
	eng.cluster.Checked = time.Now()
	return eng.cluster
}

// engineAppID asks an engine for its Spark application id, in a short session of the
// bridge's own; "" when it does not say.
func engineAppID(ctx context.Context, conn Conn) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sid := uuid.NewString()
	uc := &connect.UserContext{UserId: "sparkbridge", UserName: "sparkbridge"}
	resp, err := conn.Config(ctx, &connect.ConfigRequest{SessionId: sid, UserContext: uc,
		Operation: &connect.ConfigRequest_Operation{OpType: &connect.ConfigRequest_Operation_GetOption{
			GetOption: &connect.ConfigRequest_GetOption{Keys: []string{"spark.app.id"}}}}})
	_ = conn.ReleaseSession(ctx, &connect.ReleaseSessionRequest{SessionId: sid, UserContext: uc})
	if err != nil {
		return ""
	}
	for _, kv := range resp.GetPairs() {
		if kv.GetKey() == "spark.app.id" {
			return kv.GetValue()
		}
	}
	return ""
}
