package itest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/beltran/gohive"

	"github.com/sparkbridge/sparkbridge/hs2client"
)

// ldapServer is a real OpenLDAP (Debian's slapd) on loopback, with a throwaway config and an
// mdb database under a temporary directory, started once for the package (startLDAP) and
// stopped by TestMain. It serves ldap:// (with StartTLS) and ldaps:// with a certificate
// for 127.0.0.1 and localhost that CAFile trusts, and maintains memberOf on users
// (the memberof overlay) as groupOfNames groups change. Its log (loglevel stats) records
// every bind.
type ldapServer struct {
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://127.0.0.1:PORT
	BaseDN   string // dc=example,dc=org; users go under ou=people, groups under ou=groups
	AdminDN  string
	// AdminPassword is the rootdn's password, which tests also use as a service account's.
	AdminPassword string
	CAFile        string

	dir, logPath, pwFile string
	cmd                  *exec.Cmd
	exited               chan struct{}

	mu     sync.Mutex // guards groups
	groups map[string]bool
}

var (
	ldapOnce sync.Once
	ldapSrv  *ldapServer
	ldapErr  error
)

// startLDAP returns the package's LDAP server, starting it on first use. A missing slapd
// fails the test: .ci/run installs it.
func startLDAP(t *testing.T) *ldapServer {
	t.Helper()
	ldapOnce.Do(func() {
		ldapSrv, ldapErr = launchLDAP(t)
		if ldapErr == nil && ldapSrv == nil {
			ldapErr = fmt.Errorf("the LDAP server did not start")
		}
	})
	if ldapErr != nil {
		t.Fatalf("LDAP: %v", ldapErr)
	}
	return ldapSrv
}

func launchLDAP(t *testing.T) (*ldapServer, error) {
	for _, tool := range []string{"/usr/sbin/slapd", "ldapadd", "ldapmodify"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found (install Debian's slapd and ldap-utils; .ci/run does): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp(workDir, "ldap-")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	port, sport := ports[0], ports[1]
	s := &ldapServer{
		URL:           "ldap://127.0.0.1:" + strconv.Itoa(port),
		LDAPSURL:      "ldaps://127.0.0.1:" + strconv.Itoa(sport),
		BaseDN:        "dc=example,dc=org",
		AdminDN:       "cn=admin,dc=example,dc=org",
		AdminPassword: "admin-secret",
		dir:           dir,
		logPath:       filepath.Join(dir, "slapd.log"),
		pwFile:        filepath.Join(dir, "admin.pw"),
		groups:        map[string]bool{},
	}
	cert, key := writeCert(t, dir)
	s.CAFile = cert
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
loglevel stats
TLSCertificateFile %[2]s
TLSCertificateKeyFile %[3]s
database mdb
maxsize 67108864
suffix "%[4]s"
rootdn "%[5]s"
rootpw %[6]s
directory %[1]s/data
overlay memberof
access to attrs=userPassword by anonymous auth by self write by * none
access to * by users read by * none
`, dir, cert, key, s.BaseDN, s.AdminDN, s.AdminPassword)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.pwFile, []byte(s.AdminPassword), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	// -d keeps slapd in the foreground, a child this process owns and waits for, logging
	// to its stderr.
	s.cmd = exec.Command("/usr/sbin/slapd", "-f", confPath, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "stats")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "ldap://"), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("slapd exited at start:\n%s", s.logTail(30))
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("slapd did not listen on %s:\n%s", s.URL, s.logTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.ldif("ldapadd", `dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups
`); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// ldif runs ldapadd or ldapmodify as the admin with the given LDIF.
func (s *ldapServer) ldif(tool, ldif string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, "-x", "-H", s.URL, "-D", s.AdminDN, "-y", s.pwFile)
	cmd.Stdin = strings.NewReader(ldif)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", tool, err, out)
	}
	return nil
}

// UserDN is the DN of user uid.
func (s *ldapServer) UserDN(uid string) string { return "uid=" + uid + ",ou=people," + s.BaseDN }

// AddUser adds an inetOrgPerson with a password and puts it in groups (groupOfNames under
// ou=groups, made on first use).
func (s *ldapServer) AddUser(t *testing.T, uid, password string, groups ...string) {
	t.Helper()
	if err := s.ldif("ldapadd", fmt.Sprintf("dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n",
		s.UserDN(uid), uid, uid, uid, password)); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		s.mu.Lock()
		exists := s.groups[g]
		s.groups[g] = true
		s.mu.Unlock()
		var err error
		if exists {
			err = s.ldif("ldapmodify", fmt.Sprintf("dn: cn=%s,ou=groups,%s\nchangetype: modify\nadd: member\nmember: %s\n", g, s.BaseDN, s.UserDN(uid)))
		} else {
			err = s.ldif("ldapadd", fmt.Sprintf("dn: cn=%s,ou=groups,%s\nobjectClass: groupOfNames\ncn: %s\nmember: %s\n", g, s.BaseDN, g, s.UserDN(uid)))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Binds counts the bind requests slapd has logged for dn.
func (s *ldapServer) Binds(dn string) int {
	data, _ := os.ReadFile(s.logPath)
	return bytes.Count(data, []byte(` BIND dn="`+dn+`" method=`))
}

func (s *ldapServer) logTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	return tail(string(data), n)
}

func (s *ldapServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// stopLDAP stops the server if a test started it.
func stopLDAP() {
	if ldapSrv != nil {
		ldapSrv.stop()
	}
}

// beelineLogin runs beeline through the bridge at addr as user with password and returns
// what it printed and whether it succeeded.
func beelineLogin(addr, user, password, sql string) (stdout, stderr string, err error) {
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+addr+"/default", "-n", user, "-p", password, "--outputformat=csv2", "--silent=true", "-e", sql)
	cmd.Env = append(os.Environ(), "SPARK_HOME="+bridge.sparkHome)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("beeline hung: %w", ctx.Err())
	}
	return out.String(), errOut.String(), err
}

// connectBasicURL is a Spark Connect URL whose authorization header carries Basic
// credentials: PySpark sends URL parameters it does not know as request headers, and
// percent-decodes their values.
func connectBasicURL(addr, user, password string) string {
	cred := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	var esc strings.Builder
	for _, c := range []byte("Basic " + cred) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			esc.WriteByte(c)
		} else {
			fmt.Fprintf(&esc, "%%%02X", c)
		}
	}
	return "sc://" + addr + "/;user_id=" + user + ";authorization=" + esc.String()
}

// TestLDAPSearchThenBind runs a bridge with -auth LDAP against slapd over StartTLS, finding
// users with a service account and a user filter, admitting the groups analysts and bi, at
// the GROUP share level. beeline, PyHive and PySpark (Basic credentials on Spark Connect)
// log in; wrong passwords and a user outside the groups are refused with clear messages;
// analysts share one engine; 20 logins of one user cause at most 2 binds.
func TestLDAPSearchThenBind(t *testing.T) {
	s := startLDAP(t)
	s.AddUser(t, "alice", "alice-pw", "analysts")
	s.AddUser(t, "bob", "bob-pw", "analysts")
	s.AddUser(t, "carol", "carol-pw", "staff")
	s.AddUser(t, "dave", "dave-pw", "bi")
	dir, err := os.MkdirTemp(workDir, "ldap-bridge-")
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "bind.pw")
	if err := os.WriteFile(pwFile, []byte(s.AdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{"static": "harness"},
		"-catalog", "in-memory", "-share-level", "GROUP",
		"-auth", "LDAP", "-ldap-url", s.URL, "-ldap-starttls", "-ldap-ca-file", s.CAFile,
		"-ldap-bind-dn", s.AdminDN, "-ldap-bind-password-file", pwFile, "-ldap-base-dn", s.BaseDN,
		"-ldap-user-filter", "(&(objectClass=inetOrgPerson)(uid=%s))", "-ldap-groups", "analysts,bi")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.stop(); err != nil {
			t.Error(err)
		}
	}()

	// beeline as alice, PyHive as bob: both analysts.
	out, stderr, err := beelineLogin(b.thriftAddr, "alice", "alice-pw", "SELECT 'beeline-ldap' AS v")
	if err != nil || !strings.Contains(out, "beeline-ldap") {
		t.Fatalf("beeline as alice: %v\n%s\n%s\nbridge log:\n%s", err, out, tail(stderr, 20), b.logTail(20))
	}
	host, port, _ := net.SplitHostPort(b.thriftAddr)
	var py struct {
		OK    bool    `json:"ok"`
		Rows  [][]any `json:"rows"`
		Error string  `json:"error"`
	}
	pyspark(t, &py, "ldap_hs2.py", host, port, "bob", "bob-pw")
	if !py.OK || fmt.Sprint(py.Rows) != "[[ldap 42]]" {
		t.Fatalf("PyHive as bob: %+v", py)
	}
	// PySpark over Spark Connect as alice, with Basic credentials.
	var sc map[string]any
	pyspark(t, &sc, "pyspark_security.py", connectBasicURL(b.connectAddr, "alice", "alice-pw"), "query")
	if sc["ok"] != true || sc["value"] != 42.0 {
		t.Fatalf("PySpark with Basic credentials as alice: %v", sc)
	}
	// All three sessions were analysts': one GROUP engine served them.
	var engines struct {
		Engines []struct {
			ID         string `json:"id"`
			Key        string `json:"key"`
			User       string `json:"user"`
			ShareLevel string `json:"share_level"`
		} `json:"engines"`
	}
	adminCall(t, b, "GET", "/api/v1/engines", &engines)
	if len(engines.Engines) != 1 || engines.Engines[0].ShareLevel != "GROUP" || !strings.Contains(engines.Engines[0].Key+engines.Engines[0].User, "analysts") {
		t.Fatalf("engines after alice's and bob's logins: %+v, want one GROUP engine of analysts", engines.Engines)
	}

	// Refusals, with what each client prints.
	_, stderr, err = beelineLogin(b.thriftAddr, "alice", "wrong-pw", "SELECT 1")
	if err == nil || !strings.Contains(stderr, "invalid credentials") {
		t.Fatalf("beeline with a wrong password: %v\n%s", err, tail(stderr, 20))
	}
	_, stderr, err = beelineLogin(b.thriftAddr, "carol", "carol-pw", "SELECT 1")
	if err == nil || !strings.Contains(stderr, `user "carol" is not a member of an allowed LDAP group (analysts, bi)`) {
		t.Fatalf("beeline as carol, outside the groups: %v\n%s", err, tail(stderr, 20))
	}
	pyspark(t, &py, "ldap_hs2.py", host, port, "bob", "wrong-pw")
	if py.OK || !strings.Contains(py.Error, "invalid credentials") {
		t.Fatalf("PyHive with a wrong password: %+v", py)
	}
	pyspark(t, &sc, "pyspark_security.py", connectBasicURL(b.connectAddr, "alice", "wrong-pw"), "query")
	if sc["ok"] != false || !strings.Contains(fmt.Sprint(sc["error"]), "invalid user name or password") {
		t.Fatalf("PySpark with a wrong password: %v", sc)
	}
	pyspark(t, &sc, "pyspark_security.py", connectBasicURL(b.connectAddr, "carol", "carol-pw"), "query")
	if sc["ok"] != false || !strings.Contains(fmt.Sprint(sc["error"]), "not a member of an allowed LDAP group") {
		t.Fatalf("PySpark as carol: %v", sc)
	}

	// The bind cache: 20 SASL PLAIN logins of dave bind as dave at most twice.
	daveDN := s.UserDN("dave")
	before := s.Binds(daveDN)
	for i := range 20 {
		conn, err := net.Dial("tcp", b.thriftAddr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hs2client.SASLPlain(conn, "dave", "dave-pw")
		conn.Close()
		if err != nil {
			t.Fatalf("login %d of dave: %v", i+1, err)
		}
	}
	if n := s.Binds(daveDN) - before; n < 1 || n > 2 {
		t.Fatalf("20 logins of dave caused %d binds as dave on slapd, want 1 or 2", n)
	}
}

// TestLDAPPatternOverLDAPS runs a bridge that binds by DN pattern over ldaps://, reading
// groups with a group search as the user, on both HS2 transports (SASL PLAIN and HTTP
// Basic); and one whose directory cannot be reached, which says so rather than refusing
// the password.
func TestLDAPPatternOverLDAPS(t *testing.T) {
	s := startLDAP(t)
	s.AddUser(t, "erin", "erin-pw", "bi")
	s.AddUser(t, "frank", "frank-pw", "staff")
	dir, err := os.MkdirTemp(workDir, "ldap-pattern-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{"erin": "harness"},
		"-catalog", "in-memory",
		"-auth", "LDAP", "-ldap-url", s.LDAPSURL, "-ldap-ca-file", s.CAFile,
		"-ldap-user-dn-pattern", "uid=%s,ou=people,"+s.BaseDN, "-ldap-base-dn", s.BaseDN,
		"-ldap-group-filter", "(&(objectClass=groupOfNames)(member=%s))", "-ldap-groups", "bi")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.stop(); err != nil {
			t.Error(err)
		}
	}()
	as := func(user, password string) func(*gohive.ConnectConfiguration) {
		return func(c *gohive.ConnectConfiguration) { c.Username, c.Password = user, password }
	}
	for _, c := range []struct{ addr, transport string }{{b.thriftAddr, "binary"}, {b.httpAddr, "http"}} {
		rows, err := gohiveQueryWith(c.addr, c.transport, "NONE", "SELECT 'ldaps' AS v", as("erin", "erin-pw"))
		if err != nil || len(rows) != 1 || rows[0]["v"] != "ldaps" {
			t.Fatalf("gohive %s as erin: %v %v\nbridge log:\n%s", c.transport, rows, err, b.logTail(20))
		}
		if _, err := gohiveQueryWith(c.addr, c.transport, "NONE", "SELECT 1", as("erin", "wrong-pw")); err == nil {
			t.Fatalf("gohive %s with a wrong password was served", c.transport)
		}
		if _, err := gohiveQueryWith(c.addr, c.transport, "NONE", "SELECT 1", as("frank", "frank-pw")); err == nil {
			t.Fatalf("gohive %s as frank, outside the groups, was served", c.transport)
		}
	}
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir2, err := os.MkdirTemp(workDir, "ldap-down-")
	if err != nil {
		t.Fatal(err)
	}
	down, err := startBridgeArgs(bridgeBin, dir2, bridge.sparkHome, bridge.venv, map[string]string{"erin": "harness"},
		"-catalog", "in-memory", "-auth", "LDAP", "-ldap-url", "ldap://127.0.0.1:"+strconv.Itoa(closed),
		"-ldap-user-dn-pattern", "uid=%s,ou=people,"+s.BaseDN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := down.stop(); err != nil {
			t.Error(err)
		}
	}()
	conn, err := net.Dial("tcp", down.thriftAddr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = hs2client.SASLPlain(conn, "erin", "erin-pw")
	conn.Close()
	if err == nil || !strings.Contains(err.Error(), "LDAP directory unavailable") {
		t.Fatalf("login with the directory down: %v, want it to say the directory is unavailable", err)
	}
}
