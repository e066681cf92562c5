package itest

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/beltran/gohive"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// limitsBridge is a bridge with a users file (alice, bob and mallory, each with a password
// "<name>-pw" and a token "<name>-token"), at most 2 connections per user, mallory on the
// user deny list and 127.0.0.2 on the address deny list. Their sessions go to the harness
// engine.
func limitsBridge(t *testing.T) *bridgeProc {
	t.Helper()
	dir, err := os.MkdirTemp(workDir, "limits-")
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for _, u := range []string{"alice", "bob", "mallory"} {
		entries = append(entries, fmt.Sprintf(`{"name": %q, "password": %q, "tokens": [%q]}`, u, cheapHash(u+"-pw"), tokenHash(u+"-token")))
	}
	usersFile := filepath.Join(dir, "users.json")
	if err := os.WriteFile(usersFile, []byte(`{"users": [`+strings.Join(entries, ", ")+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{"alice": "harness", "bob": "harness", "mallory": "harness"},
		"-auth", "FILE", "-users-file", usersFile, "-catalog", "in-memory",
		"-max-connections-per-user", "2", "-deny-users", "mallory", "-deny-addresses", "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.stop(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// cheapHash is a users-file hash of 10,000 rounds, so that logins cost the test little.
func cheapHash(pw string) string {
	salt := []byte("0123456789abcdef")
	key, _ := pbkdf2.Key(sha256.New, pw, salt, 10000, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$10000$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(key))
}

// localDialer dials from a loopback address of the test's choice: Linux routes all of
// 127.0.0.0/8 to lo, so one test can be clients at several addresses.
func localDialer(from string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
}

// gohiveOpen opens a gohive connection over the binary transport (SASL PLAIN) from a local
// address and runs SELECT 1 on it; the connection is returned open.
func gohiveOpen(addr, from, user, password string) (conn *gohive.Connection, err error) {
	host, port, _ := net.SplitHostPort(addr)
	conf := gohive.NewConnectConfiguration()
	conf.Username, conf.Password = user, password
	conf.DialContext = localDialer(from).DialContext
	defer func() {
		if r := recover(); r != nil { // gohive panics on some connection failures
			err = fmt.Errorf("gohive panicked: %v", r)
		}
	}()
	var p int
	fmt.Sscan(port, &p)
	conn, err = gohive.Connect(host, p, "NONE", conf)
	if err != nil {
		return nil, err
	}
	cur := conn.Cursor()
	cur.Exec(context.Background(), "SELECT 1")
	err = cur.Err
	cur.Close()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// hs2HTTPOpenSession opens an HS2 session over the HTTP transport with Basic credentials
// from a local address and returns the OpenSession status (nil when the transport itself
// failed, with the error).
func hs2HTTPOpenSession(t *testing.T, addr, from, user, password string) (*hiveserver.TStatus, error) {
	t.Helper()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: localDialer(from).DialContext}}
	trans, err := thrift.NewTHttpClientWithOptions("http://"+addr+"/cliservice", thrift.THttpClientOptions{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	trans.(*thrift.THttpClient).SetHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	c := hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
	resp, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10})
	if err != nil {
		return nil, err
	}
	if resp.SessionHandle != nil {
		_, _ = c.CloseSession(context.Background(), &hiveserver.TCloseSessionReq{SessionHandle: resp.SessionHandle})
	}
	return resp.Status, nil
}

// httpPost sends a Basic-authenticated POST to the HS2 HTTP path from a local address and
// returns the status code and body.
func httpPost(t *testing.T, addr, from, user, password string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: localDialer(from).DialContext}}
	req, _ := http.NewRequest("POST", "http://"+addr+"/cliservice", http.NoBody)
	req.SetBasicAuth(user, password)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// rawCodec sends and receives protobuf bytes as they are: itest cannot link the bridge's
// generated Spark Connect code (it clashes with spark-connect-go's), so the few requests
// this test sends are encoded with protowire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// connectConn is a gRPC connection to the Spark Connect port from a local address.
func connectConn(t *testing.T, addr, from string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return localDialer(from).DialContext(ctx, "tcp", a)
		}),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// connectGetConf calls SparkConnectService.Config (Get spark.sql.shuffle.partitions) for
// session sid with a bearer token, and returns the error.
func connectGetConf(conn *grpc.ClientConn, token, user, sid string) error {
	return connectGetConfAuth(conn, "Bearer "+token, user, sid)
}

// connectGetConfAuth is connectGetConf with any authorization header (Basic credentials).
func connectGetConfAuth(conn *grpc.ClientConn, authorization, user, sid string) error {
	// ConfigRequest{session_id: 1, user_context: 2 {user_id: 1}, operation: 3 {get: 2 {keys: 1}}}
	var uc, get, op, req []byte
	uc = protowire.AppendString(protowire.AppendTag(uc, 1, protowire.BytesType), user)
	get = protowire.AppendString(protowire.AppendTag(get, 1, protowire.BytesType), "spark.sql.shuffle.partitions")
	op = protowire.AppendBytes(protowire.AppendTag(op, 2, protowire.BytesType), get)
	req = protowire.AppendString(protowire.AppendTag(req, 1, protowire.BytesType), sid)
	req = protowire.AppendBytes(protowire.AppendTag(req, 2, protowire.BytesType), uc)
	req = protowire.AppendBytes(protowire.AppendTag(req, 3, protowire.BytesType), op)
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", authorization), 3*time.Minute)
	defer cancel()
	var resp []byte
	return conn.Invoke(ctx, "/spark.connect.SparkConnectService/Config", &req, &resp)
}

// beelineCapped runs SELECT 1 with beeline over the binary transport and returns its output
// and error.
func beelineCapped(addr, user, password string) (string, error) {
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"),
		"-u", "jdbc:hive2://"+addr+"/default", "-n", user, "-p", password, "--outputformat=csv2", "-e", "SELECT 1")
	cmd.Env = append(os.Environ(), "SPARK_HOME="+bridge.sparkHome)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// hs2Login runs a Python HS2 client (testdata/hs2_login.py) and returns its JSON outcome.
func hs2Login(t *testing.T, which, addr, user, password string) map[string]any {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	var out map[string]any
	pyspark(t, &out, "hs2_login.py", which, host, port, user, password)
	return out
}

// TestLimitsUserOverConnectionCap: with -max-connections-per-user 2, alice holds one HS2
// binary connection (gohive) and one Spark Connect connection (gRPC): the caps count both
// protocols together. A third connection of hers is refused with the reason on every
// client and transport: gohive, beeline and PyHive on the binary transport (the SASL
// answer), impyla and a Thrift client over HTTP (OpenSession's status), PySpark and a gRPC
// client on Spark Connect (RESOURCE_EXHAUSTED). Bob is not affected, and once alice closes a
// connection she gets in again.
func TestLimitsUserOverConnectionCap(t *testing.T) {
	b := limitsBridge(t)
	if !strings.Contains(b.log(), "weak data authorization: share level USER without -proxy-user") {
		t.Errorf("the bridge (FILE auth, USER level, no -proxy-user) did not warn at start; log:\n%s", b.logTail(30))
	}
	held, err := gohiveOpen(b.thriftAddr, "127.0.0.1", "alice", "alice-pw")
	if err != nil {
		t.Fatalf("alice's first connection (HS2 binary): %v", err)
	}
	defer func() {
		if held != nil {
			held.Close()
		}
	}()
	cc := connectConn(t, b.connectAddr, "127.0.0.1")
	sid := uuid.NewString()
	if err := connectGetConf(cc, "alice-token", "alice", sid); err != nil {
		t.Fatalf("alice's second connection (Spark Connect): %v", err)
	}

	const over = "sparkbridge: user alice already has 2 open connections, the most one user may have; close one and try again"
	t.Run("gohive-binary", func(t *testing.T) {
		c, err := gohiveOpen(b.thriftAddr, "127.0.0.1", "alice", "alice-pw")
		if err == nil || !strings.Contains(err.Error(), over) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("a third connection: %v, want %q", err, over)
		}
		t.Logf("gohive returned %v", err)
	})
	t.Run("beeline-binary", func(t *testing.T) {
		out, err := beelineCapped(b.thriftAddr, "alice", "alice-pw")
		if err == nil || !strings.Contains(out, over) {
			t.Fatalf("beeline: %v\n%s", err, tail(out, 20))
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, over) {
				t.Logf("beeline printed %s", strings.TrimSpace(l))
				break
			}
		}
	})
	t.Run("pyhive-binary", func(t *testing.T) {
		out := hs2Login(t, "pyhive", b.thriftAddr, "alice", "alice-pw")
		if out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), over) {
			t.Fatalf("PyHive: %v", out)
		}
		t.Logf("PyHive raised %s", out["error"])
	})
	t.Run("impyla-http", func(t *testing.T) {
		out := hs2Login(t, "impyla-http", b.httpAddr, "alice", "alice-pw")
		if out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), over) {
			t.Fatalf("impyla over HTTP: %v", out)
		}
		t.Logf("impyla raised %s", out["error"])
	})
	t.Run("thrift-http", func(t *testing.T) {
		st, err := hs2HTTPOpenSession(t, b.httpAddr, "127.0.0.1", "alice", "alice-pw")
		if err != nil || st.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || st.GetSqlState() != "53000" || st.GetErrorMessage() != over {
			t.Fatalf("OpenSession over HTTP: %+v, %v", st, err)
		}
	})
	t.Run("pyspark", func(t *testing.T) {
		var out map[string]any
		pyspark(t, &out, "pyspark_security.py", "sc://localhost:"+portOf(b.connectAddr)+"/;user_id=alice;token=alice-token", "query")
		if out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), "RESOURCE_EXHAUSTED") || !strings.Contains(fmt.Sprint(out["error"]), over) {
			t.Fatalf("PySpark: %v", out)
		}
		t.Logf("PySpark raised %s", out["error"])
	})
	t.Run("grpc", func(t *testing.T) {
		err := connectGetConf(connectConn(t, b.connectAddr, "127.0.0.1"), "alice-token", "alice", uuid.NewString())
		if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != over {
			t.Fatalf("a second Spark Connect connection: %v", err)
		}
	})
	// Alice's own connections still work; bob, at his first, is not affected.
	if err := connectGetConf(cc, "alice-token", "alice", sid); err != nil {
		t.Fatalf("alice's held Spark Connect connection: %v", err)
	}
	if c, err := gohiveOpen(b.thriftAddr, "127.0.0.1", "bob", "bob-pw"); err != nil {
		t.Fatalf("bob: %v", err)
	} else {
		c.Close()
	}
	if st, err := hs2HTTPOpenSession(t, b.httpAddr, "127.0.0.1", "bob", "bob-pw"); err != nil || st.StatusCode != hiveserver.TStatusCode_SUCCESS_STATUS {
		t.Fatalf("bob over HTTP: %+v, %v", st, err)
	}

	// Alice closes her HS2 connection: the bridge releases it when it sees the close, and a
	// new connection of hers is admitted then.
	held.Close()
	held = nil
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := gohiveOpen(b.thriftAddr, "127.0.0.1", "alice", "alice-pw")
		if err == nil {
			c.Close()
			break
		}
		if !strings.Contains(err.Error(), over) || time.Now().After(deadline) {
			t.Fatalf("after alice closed a connection: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLimitsDeniedBeforeCredentials: a client at a denied address (127.0.0.2) is refused with
// the reason on every protocol and transport, with the right credentials and wrong ones
// alike, before any credential is checked: the bridge counts no failed login for 60 wrong
// passwords and tokens from it (while one wrong password from 127.0.0.3 is counted), and the
// auth guard logs no refusal. A denied user (mallory) is refused right after authentication,
// and a wrong password of hers is just a failed login.
func TestLimitsDeniedBeforeCredentials(t *testing.T) {
	b := limitsBridge(t)
	metricsURL := "http://" + b.adminAddr + "/metrics"
	const denied = "sparkbridge: connections from 127.0.0.2 are not allowed"
	cc := connectConn(t, b.connectAddr, "127.0.0.2")
	for i := 0; i < 20; i++ {
		pw := fmt.Sprint("guess-", i)
		if i == 0 {
			pw = "alice-pw" // the right password is refused as well
		}
		if _, err := gohiveOpen(b.thriftAddr, "127.0.0.2", "alice", pw); err == nil || !strings.Contains(err.Error(), denied) {
			t.Fatalf("HS2 binary from 127.0.0.2: %v", err)
		}
		if code, body := httpPost(t, b.httpAddr, "127.0.0.2", "alice", pw); code != http.StatusForbidden || !strings.Contains(body, denied) {
			t.Fatalf("HS2 HTTP from 127.0.0.2: %d %q", code, body)
		}
		tok := strings.Replace(pw, "-pw", "-token", 1)
		if err := connectGetConf(cc, tok, "alice", uuid.NewString()); status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != denied {
			t.Fatalf("Spark Connect from 127.0.0.2: %v", err)
		}
	}
	// The same wrong password from an address that is not denied is checked, and counted:
	// once that count shows (the bridge counts a failed login after answering it), it must
	// be the only failed login.
	if _, err := gohiveOpen(b.thriftAddr, "127.0.0.3", "alice", "guess"); err == nil || !strings.Contains(err.Error(), "invalid credentials") {
		t.Fatalf("a wrong password from 127.0.0.3: %v", err)
	}
	var m map[string]float64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		m = scrapeMetrics(t, http.DefaultClient, metricsURL)
		if m["sparkbridge_auth_failures_total{mechanism=plain,protocol=hs2_binary}"] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a wrong password from 127.0.0.3 was not counted: %v", filterKeys(m, "auth_failures"))
		}
	}
	if got := filterKeys(m, "auth_failures"); len(got) != 1 || got["sparkbridge_auth_failures_total{mechanism=plain,protocol=hs2_binary}"] != 1 {
		t.Errorf("failed logins %v; want only the one from 127.0.0.3: nothing from the denied address reached a credential check", got)
	}
	if m["sparkbridge_connections_failed_total{protocol=hs2_binary,reason=denied}"] < 20 || m["sparkbridge_connections_failed_total{protocol=hs2_http,reason=denied}"] < 20 ||
		m["sparkbridge_connections_failed_total{protocol=connect,reason=denied}"] < 1 {
		t.Errorf("denied connections counted: %v", filterKeys(m, "connections_failed"))
	}
	for _, l := range strings.Split(b.log(), "\n") {
		if strings.Contains(l, "authentication refused") && strings.Contains(l, "127.0.0.2") {
			t.Errorf("the auth guard saw credentials from a denied address: %s", l)
		}
	}

	// mallory, denied by name: refused once authenticated, with the reason.
	const deniedUser = "sparkbridge: user mallory is not allowed to connect"
	if _, err := gohiveOpen(b.thriftAddr, "127.0.0.1", "mallory", "mallory-pw"); err == nil || !strings.Contains(err.Error(), deniedUser) {
		t.Fatalf("mallory over HS2 binary: %v", err)
	}
	if _, err := gohiveOpen(b.thriftAddr, "127.0.0.1", "mallory", "wrong"); err == nil || !strings.Contains(err.Error(), "invalid credentials") {
		t.Fatalf("mallory with a wrong password: %v", err)
	}
	if code, body := httpPost(t, b.httpAddr, "127.0.0.1", "mallory", "mallory-pw"); code != http.StatusForbidden || !strings.Contains(body, deniedUser) {
		t.Fatalf("mallory over HS2 HTTP: %d %q", code, body)
	}
	err := connectGetConf(connectConn(t, b.connectAddr, "127.0.0.1"), "mallory-token", "mallory", uuid.NewString())
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != deniedUser {
		t.Fatalf("mallory over Spark Connect: %v", err)
	}
	var out map[string]any
	pyspark(t, &out, "pyspark_security.py", "sc://localhost:"+portOf(b.connectAddr)+"/;user_id=mallory;token=mallory-token", "query")
	if out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), "PERMISSION_DENIED") || !strings.Contains(fmt.Sprint(out["error"]), deniedUser) {
		t.Fatalf("mallory with PySpark: %v", out)
	}
}

func filterKeys(m map[string]float64, sub string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.Contains(k, sub) {
			out[k] = v
		}
	}
	return out
}
