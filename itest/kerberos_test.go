package itest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Kerberos tests run a real MIT KDC (Debian's krb5-kdc, kadmin.local from
// krb5-admin-server, kinit from krb5-user): a throwaway realm on loopback, made once for the
// package, and stopped by TestMain.

const krbRealm = "SPARKBRIDGE.TEST"

// kdcRealm is the realm's KDC and the files the tests hand to clients.
type kdcRealm struct {
	dir     string
	conf    string // krb5.conf for clients (KRB5_CONFIG, -Djava.security.krb5.conf)
	profile string // kdc.conf (KRB5_KDC_PROFILE)
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
}

var (
	kdcOnce sync.Once
	kdc     *kdcRealm
	kdcErr  error
)

// realm starts the package's KDC on first use; a missing Kerberos tool fails the test.
func realm(t *testing.T) *kdcRealm {
	t.Helper()
	kdcOnce.Do(func() { kdc, kdcErr = startKDC() })
	if kdcErr != nil {
		t.Fatalf("the Kerberos realm: %v", kdcErr)
	}
	return kdc
}

// krbTool finds a Kerberos program, which Debian puts in /usr/sbin for the KDC's.
func krbTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed (Debian packages krb5-kdc, krb5-admin-server and krb5-user; .ci/run installs them)", name)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func startKDC() (*kdcRealm, error) {
	dir, err := os.MkdirTemp("", "sparkbridge-kdc-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &kdcRealm{dir: dir, conf: filepath.Join(dir, "krb5.conf"), profile: filepath.Join(dir, "kdc.conf"), port: port, done: make(chan struct{})}
	kdcConf := fmt.Sprintf(`[kdcdefaults]
 kdc_ports = %[1]d
 kdc_tcp_ports = %[1]d
[realms]
 %[2]s = {
  database_name = %[3]s/principal
  acl_file = %[3]s/kadm5.acl
  key_stash_file = %[3]s/stash
  kdc_ports = %[1]d
  kdc_tcp_ports = %[1]d
  max_life = 10h 0m 0s
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }
[logging]
 kdc = FILE:%[3]s/kdc.log
`, port, krbRealm, dir)
	// Clients reach the KDC over TCP on loopback, and name hosts as they are written.
	krb5Conf := fmt.Sprintf(`[libdefaults]
 default_realm = %[2]s
 dns_lookup_realm = false
 dns_lookup_kdc = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
[realms]
 %[2]s = {
  kdc = 127.0.0.1:%[1]d
 }
[domain_realm]
 localhost = %[2]s
`, port, krbRealm)
	for path, text := range map[string]string{r.profile: kdcConf, r.conf: krb5Conf, filepath.Join(dir, "kadm5.acl"): ""} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			return nil, err
		}
	}
	if _, err := r.run("kdb5_util", "create", "-s", "-r", krbRealm, "-P", "throwaway-master-key"); err != nil {
		return nil, err
	}
	bin, err := krbTool("krb5kdc")
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "krb5kdc.out"))
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, "-n", "-r", krbRealm) // -n: in the foreground, a child of this test binary
	r.cmd.Env = r.env()
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	logFile.Close()
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-r.done:
			out, _ := os.ReadFile(filepath.Join(dir, "krb5kdc.out"))
			return nil, fmt.Errorf("krb5kdc exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("krb5kdc did not listen on port %d", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The service, and HTTP/localhost: a real service of the realm that is not this one.
	for _, p := range []string{"hive/localhost", "HTTP/localhost", "alice", "bob", "svc"} {
		if _, err := r.kadmin("addprinc -randkey " + p + "@" + krbRealm); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{"hive/localhost", "alice", "bob", "svc"} {
		if _, err := r.kadmin("ktadd -k " + r.keytab(p) + " " + p + "@" + krbRealm); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// env is the environment of the realm's tools and clients.
func (r *kdcRealm) env(extra ...string) []string {
	return append(append(os.Environ(), "KRB5_CONFIG="+r.conf, "KRB5_KDC_PROFILE="+r.profile), extra...)
}

func (r *kdcRealm) run(tool string, args ...string) (string, error) {
	bin, err := krbTool(tool)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = r.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (r *kdcRealm) kadmin(query string) (string, error) {
	return r.run("kadmin.local", "-r", krbRealm, "-q", query)
}

// keytab is where principal's keytab is (slashes become underscores).
func (r *kdcRealm) keytab(principal string) string {
	return filepath.Join(r.dir, strings.ReplaceAll(principal, "/", "_")+".keytab")
}

// kinit logs principal in from its keytab into a ticket cache of its own and returns the
// cache's KRB5CCNAME.
func (r *kdcRealm) kinit(t *testing.T, principal string) string {
	t.Helper()
	cache := "FILE:" + filepath.Join(t.TempDir(), strings.ReplaceAll(principal, "/", "_")+".ccache")
	bin, err := krbTool("kinit")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-kt", r.keytab(principal), principal+"@"+krbRealm)
	cmd.Env = r.env("KRB5CCNAME=" + cache)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit %s: %v\n%s", principal, err, out)
	}
	return cache
}

// javaEnv is what a JVM client needs for the realm: its krb5.conf, and (for beeline, whose
// Hive JDBC driver asks Hadoop's UGI for credentials that are not logged in through it) the
// ticket cache that kinit filled, through the JDK's own login.
func (r *kdcRealm) javaEnv(cache string) []string {
	return r.env("KRB5CCNAME="+cache,
		"_JAVA_OPTIONS=-Djava.security.krb5.conf="+r.conf+" -Djavax.security.auth.useSubjectCredsOnly=false")
}

func (r *kdcRealm) stop() {
	if r == nil || r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	os.RemoveAll(r.dir)
}

// stopKDC stops the package's KDC, if a test started it (TestMain calls it).
func stopKDC() {
	if kdc != nil {
		kdc.stop()
	}
}

// krbClient runs a client with env and returns its output, stdout then stderr; unlike
// runClient, a failed client is for the caller to judge.
func krbClient(t *testing.T, env []string, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(env, "SPARK_HOME="+bridge.sparkHome)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String() + "\n--- stderr ---\n" + stderr.String(), err
}

// beelineKrb runs one statement with beeline at url and returns its output lines (prompts
// removed) and error.
func beelineKrb(t *testing.T, env []string, url, sql string) ([]string, string, error) {
	t.Helper()
	out, err := krbClient(t, env, 5*time.Minute, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", url, "--outputformat=csv2", "--silent=true", "--showHeader=false", "-e", sql)
	stdout, _, _ := strings.Cut(out, "\n--- stderr ---\n")
	var lines []string
	for _, l := range strings.Split(stdout, "\n") {
		if l = strings.TrimSpace(beelinePrompt.ReplaceAllString(l, "")); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, out, err
}

// TestKerberos: a bridge with -auth KERBEROS and the realm's keytab serves beeline (after
// kinit, principal=hive/_HOST@REALM) on the binary and HTTP transports, a Hive JDBC program
// that logs in from a keytab, PyHive with auth='KERBEROS' and impyla (GSSAPI, binary and HTTP); current_user() in the engine
// is the ticket's user. A service account may act for a listed user only. A ticket for
// another service, a garbled token and a ticket the KDC issued for a key the bridge's
// keytab does not hold are refused, each with its reason.
func TestKerberos(t *testing.T) {
	r := realm(t)
	dir := t.TempDir()
	// alice and bob get engines of their own, launched for them: current_user() there is
	// the user the session was opened for (the static harness engine answers with its own).
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{},
		"-catalog", "in-memory", "-auth", "KERBEROS",
		"-kerberos-keytab", r.keytab("hive/localhost"), "-kerberos-principal", "hive/localhost@"+krbRealm,
		"-proxy-user-allow", "svc=bob")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("bridge log:\n%s", b.logTail(40))
		}
	}()
	// Clients name the host as the principal does: localhost.
	thriftURL := "jdbc:hive2://localhost:" + portOf(b.thriftAddr) + "/default;principal=hive/_HOST@" + krbRealm
	httpURL := "jdbc:hive2://localhost:" + portOf(b.httpAddr) + "/default;principal=hive/_HOST@" + krbRealm + ";transportMode=http;httpPath=cliservice"
	alice := r.kinit(t, "alice")

	t.Run("beeline binary", func(t *testing.T) {
		lines, out, err := beelineKrb(t, r.javaEnv(alice), thriftURL, "SELECT current_user() AS u")
		if err != nil || len(lines) != 1 || lines[0] != "alice" {
			t.Fatalf("beeline printed %q (%v):\n%s", lines, err, tail(out, 30))
		}
	})
	t.Run("beeline http", func(t *testing.T) {
		lines, out, err := beelineKrb(t, r.javaEnv(alice), httpURL, "SELECT current_user() AS u")
		if err != nil || len(lines) != 1 || lines[0] != "alice" {
			t.Fatalf("beeline printed %q (%v):\n%s", lines, err, tail(out, 30))
		}
	})
	t.Run("JDBC keytab login", func(t *testing.T) {
		classes := t.TempDir()
		cp := filepath.Join(bridge.sparkHome, "jars", "*")
		if out, err := exec.Command("javac", "-d", classes, "-cp", cp, filepath.Join("testdata", "KerberosJdbc.java")).CombinedOutput(); err != nil {
			t.Fatalf("javac: %v\n%s", err, out)
		}
		// No ticket cache: the program's own keytab login is all it has.
		env := r.env("KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "none"), "_JAVA_OPTIONS=-Djava.security.krb5.conf="+r.conf)
		out, err := krbClient(t, env, 5*time.Minute, "java", "-cp", classes+string(os.PathListSeparator)+cp, "KerberosJdbc",
			thriftURL, "bob@"+krbRealm, r.keytab("bob"))
		if err != nil || !strings.Contains(out, "login=bob\n") || !strings.Contains(out, "user=bob\n") {
			t.Fatalf("JDBC (%v):\n%s", err, tail(out, 30))
		}
	})
	t.Run("PyHive", func(t *testing.T) {
		script := `from pyhive import hive
c = hive.connect(host='localhost', port=` + portOf(b.thriftAddr) + `, auth='KERBEROS', kerberos_service_name='hive')
cur = c.cursor()
cur.execute('SELECT current_user() AS u')
print('user=' + cur.fetchall()[0][0])
c.close()`
		out, err := krbClient(t, r.env("KRB5CCNAME="+alice), 3*time.Minute, filepath.Join(bridge.venv, "bin", "python"), "-c", script)
		if err != nil || !strings.Contains(out, "user=alice\n") {
			t.Fatalf("PyHive (%v):\n%s", err, tail(out, 30))
		}
	})
	t.Run("impyla", func(t *testing.T) {
		script := `from impala.dbapi import connect
for name, port, kw in (('binary', ` + portOf(b.thriftAddr) + `, {}), ('http', ` + portOf(b.httpAddr) + `, {'use_http_transport': True, 'http_path': 'cliservice'})):
    c = connect(host='localhost', port=port, auth_mechanism='GSSAPI', kerberos_service_name='hive', **kw)
    cur = c.cursor()
    cur.execute('SELECT current_user() AS u')
    print(name + '=' + cur.fetchall()[0][0])
    c.close()`
		out, err := krbClient(t, r.env("KRB5CCNAME="+alice), 3*time.Minute, filepath.Join(bridge.venv, "bin", "python"), "-c", script)
		if err != nil || !strings.Contains(out, "binary=alice\n") || !strings.Contains(out, "http=alice\n") {
			t.Fatalf("impyla (%v):\n%s", err, tail(out, 30))
		}
	})
	t.Run("proxy user", func(t *testing.T) {
		svc := r.kinit(t, "svc")
		lines, out, err := beelineKrb(t, r.javaEnv(svc), thriftURL+";hive.server2.proxy.user=bob", "SELECT current_user() AS u")
		if err != nil || len(lines) != 1 || lines[0] != "bob" {
			t.Fatalf("svc as bob: %q (%v):\n%s", lines, err, tail(out, 30))
		}
		_, out, err = beelineKrb(t, r.javaEnv(svc), thriftURL+";hive.server2.proxy.user=alice", "SELECT current_user() AS u")
		if err == nil || !strings.Contains(out, "user svc is not allowed to impersonate alice") {
			t.Fatalf("svc as alice, not in the allow-list (%v):\n%s", err, tail(out, 30))
		}
	})
	t.Run("wrong service principal", func(t *testing.T) {
		url := strings.Replace(thriftURL, "principal=hive/", "principal=HTTP/", 1)
		_, out, err := beelineKrb(t, r.javaEnv(alice), url, "SELECT 1")
		if err == nil || !strings.Contains(out, "the ticket is for HTTP/localhost@"+krbRealm+", and this service is hive/localhost@"+krbRealm) {
			t.Fatalf("a ticket for HTTP/localhost (%v):\n%s", err, tail(out, 30))
		}
	})
	t.Run("garbled token", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", b.thriftAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Minute))
		for _, m := range []struct {
			status byte
			body   string
		}{{1, "GSSAPI"}, {2, "\x60\x0b\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02garbage"}} {
			hdr := make([]byte, 5)
			hdr[0] = m.status
			binary.BigEndian.PutUint32(hdr[1:], uint32(len(m.body)))
			if _, err := conn.Write(append(hdr, m.body...)); err != nil {
				t.Fatal(err)
			}
		}
		hdr := make([]byte, 5)
		if _, err := io.ReadFull(conn, hdr); err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
		_, _ = io.ReadFull(conn, msg)
		if hdr[0] != 3 || !strings.Contains(string(msg), "Kerberos authentication failed") {
			t.Fatalf("garbled token: status %d %q, want BAD", hdr[0], msg)
		}
		// And over HTTP: 401 with a new Negotiate challenge.
		req, _ := http.NewRequest(http.MethodPost, "http://"+b.httpAddr+"/cliservice", strings.NewReader("x"))
		req.Header.Set("Authorization", "Negotiate YIIBgarbage==")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Values("WWW-Authenticate")[0] != "Negotiate" {
			t.Fatalf("garbled Negotiate: %d %q %s", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), body)
		}
	})
	// Last, as it changes the service's key: the KDC now issues tickets the bridge's keytab
	// cannot open, as after a key change nobody exported.
	t.Run("stale keytab", func(t *testing.T) {
		if _, err := r.kadmin("cpw -randkey hive/localhost@" + krbRealm); err != nil {
			t.Fatal(err)
		}
		bob := r.kinit(t, "bob")
		_, out, err := beelineKrb(t, r.javaEnv(bob), thriftURL, "SELECT 1")
		if err == nil || !strings.Contains(out, "does not decrypt with this service's key") {
			t.Fatalf("a ticket for a key the keytab lacks (%v):\n%s", err, tail(out, 30))
		}
	})
}
