package itest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/spark-connect-go/v40/spark/sql"
	"github.com/beltran/gohive"

	"github.com/apache/spark-connect-go/v40/spark/sql/functions"
	"github.com/sparkbridge/sparkbridge/auth"
)

// TestPySparkSurfaceMatchesDirect runs the same PySpark script straight against the harness
// engine and through the bridge (user "static" is routed to that engine), and requires the
// same results, besides checking the values themselves.
func TestPySparkSurfaceMatchesDirect(t *testing.T) {
	var direct, bridged map[string]any
	pyspark(t, &direct, "pyspark_surface.py", harness.url("static"))
	pyspark(t, &bridged, "pyspark_surface.py", "sc://localhost:"+portOf(bridge.connectAddr)+"/;user_id=static")
	for k, v := range direct {
		if k == "interrupt" { // how many operations interruptAll found depends on timing
			continue
		}
		if !reflect.DeepEqual(bridged[k], v) {
			t.Errorf("%s: through the bridge %v, direct %v", k, bridged[k], v)
		}
	}
	check := func(key string, want any) {
		t.Helper()
		if got := jsonString(bridged[key]); got != jsonString(want) {
			t.Errorf("%s = %s, want %s", key, got, jsonString(want))
		}
	}
	check("from_lists", [][]any{{1, "ann", "eng", 100}, {2, "bo", "eng", 80}, {3, "cy", "ops", 90}, {4, "di", "ops", nil}})
	check("join", [][]any{{"ann", 3}, {"bo", 3}, {"cy", 1}, {"di", 1}})
	check("group_agg", [][]any{{"eng", 2, 180, 90.0}, {"ops", 2, 90, 90.0}})
	check("window", [][]any{{"ann", 1, 180}, {"bo", 2, 180}, {"cy", 1, 90}, {"di", 2, 90}})
	check("sort_limit", []string{"di", "cy"})
	check("topandas", map[string]any{"rows": 1000000, "sum_id": 499999500000, "sum_m": 2999997, "last_s": "999999", "dtypes": []string{"int64", "int64", "object"}})
	check("sql_params", [][]any{{2, 20}, {3, 30}, {4, 40}})
	check("sql_pos_params", 42)
	check("temp_view", 2)
	check("list_tables", []string{"people_v", "second_v"})
	check("udf", []int{20, 20, 20, 30})
	check("artifact_udf", []string{"ANN!", "BO!", "CY!", "DI!"})
	check("analysis_error", map[string]string{"class": "UNRESOLVED_COLUMN.WITH_SUGGESTION", "sqlstate": "42703"})
	intr, _ := bridged["interrupt"].(map[string]any)
	if intr["outcome"] == "finished" || intr["cancelled"] != true || intr["ids"].(float64) < 1 {
		t.Errorf("interruptAll through the bridge: %v", intr)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestSparkConnectGoMatchesDirect runs a query with spark-connect-go through the bridge and
// compares its rows with the same query run by PySpark straight against the harness engine.
// (spark-connect-go requires TLS whenever it sends a token, so it cannot reach the
// token-protected engine directly.)
func TestSparkConnectGoMatchesDirect(t *testing.T) {
	const query = "SELECT id, id * 3 AS triple, CAST(id AS STRING) AS s, id % 2 = 0 AS even FROM range(2000)"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spark, err := sql.NewSessionBuilder().Remote("sc://" + bridge.connectAddr + "/;user_id=static").Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer spark.Stop()
	df, err := spark.Sql(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	df, err = df.Filter(ctx, functions.Col("id").Gt(functions.IntLit(1990)))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := df.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := df.Count(ctx)
	if err != nil || n != int64(len(rows)) {
		t.Fatalf("count %d, %v; collected %d", n, err, len(rows))
	}
	var bridged [][]any
	for _, r := range rows {
		bridged = append(bridged, r.Values())
	}
	var direct [][]any
	pyspark(t, &direct, "pyspark_query.py", harness.url("static"), query+" WHERE id > 1990")
	if len(bridged) != 9 || jsonString(bridged) != jsonString(direct) {
		t.Fatalf("spark-connect-go through the bridge %v, PySpark direct %v", bridged, direct)
	}
	if fmt.Sprint(bridged[0]) != "[1991 5973 1991 false]" {
		t.Fatalf("first row %v", bridged[0])
	}
}

// cuttingProxy forwards TCP to target and cuts the first connection once it has carried
// cutAfter bytes towards the client.
type cuttingProxy struct {
	ln       net.Listener
	target   string
	cutAfter int64
	conns    atomic.Int32
	cut      atomic.Bool
	wg       sync.WaitGroup
}

func startCuttingProxy(t *testing.T, target string, cutAfter int64) *cuttingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, target: target, cutAfter: cutAfter}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c, p.conns.Add(1) == 1) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cuttingProxy) serve(client net.Conn, cutThis bool) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() { _, _ = io.Copy(server, client); server.Close() }()
	if !cutThis {
		_, _ = io.Copy(client, server)
		return
	}
	if _, err := io.CopyN(client, server, p.cutAfter); err == nil {
		p.cut.Store(true)
	}
	// Returning closes both sides: the client sees its connection drop mid-stream.
}

// TestReattachAfterConnectionCut cuts PySpark's TCP connection to the bridge in the middle
// of a large result; PySpark reattaches through the bridge and must get every row once.
func TestReattachAfterConnectionCut(t *testing.T) {
	proxy := startCuttingProxy(t, bridge.connectAddr, 8<<20)
	var got struct {
		Rows, Sum, Distinct, SLen int64
	}
	pyspark(t, &got, "pyspark_reattach.py", "sc://"+proxy.ln.Addr().String()+"/;user_id=alice")
	if !proxy.cut.Load() || proxy.conns.Load() < 2 {
		t.Fatalf("the proxy did not cut a stream and see a reconnect (cut %v, %d connections)", proxy.cut.Load(), proxy.conns.Load())
	}
	const n = 3000000
	if got.Rows != n || got.Distinct != n || got.Sum != int64(n)*(n-1)/2 {
		t.Fatalf("after the cut PySpark got %+v, want %d distinct rows summing to %d", got, n, int64(n)*(n-1)/2)
	}
}

// TestConnectSecurity runs a second bridge with a users file and TLS, routing alice and bob
// to the harness engine, and checks TLS, authentication, session ownership and protected
// confs with PySpark.
func TestConnectSecurity(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "secure-")
	if err != nil {
		t.Fatal(err)
	}
	aliceTok, bobTok := "alice-token-0123456789", "bob-token-9876543210"
	pwHash, err := auth.HashPassword("alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	users := fmt.Sprintf(`{"users": [{"name": "alice", "password": %q, "tokens": [%q]}, {"name": "bob", "tokens": [%q]}]}`, pwHash, tokenHash(aliceTok), tokenHash(bobTok))
	usersFile := filepath.Join(dir, "users.json")
	if err := os.WriteFile(usersFile, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	// This bridge also serves TLS: PySpark connects with use_ssl=true and trusts the test CA.
	certFile, keyFile := writeCert(t, dir)
	clientEnv = []string{"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=" + certFile}
	defer func() { clientEnv = nil }()
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{"alice": "harness", "bob": "harness"},
		"-auth", "FILE", "-users-file", usersFile, "-protect-conf", "spark.app.name",
		"-connect-tls-cert", certFile, "-connect-tls-key", keyFile,
		"-thrift-tls-cert", certFile, "-thrift-tls-key", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	port := portOf(b.connectAddr)
	url := func(token, extra string) string {
		u := "sc://localhost:" + port + "/;use_ssl=true;user_id=alice"
		if token != "" {
			u += ";token=" + token
		}
		return u + extra
	}
	probe := func(u, what string) map[string]any {
		var out map[string]any
		pyspark(t, &out, "pyspark_security.py", u, what)
		return out
	}
	if out := probe(url(aliceTok, ""), "query"); out["ok"] != true || out["value"] != 42.0 {
		t.Fatalf("alice with her token: %v", out)
	}
	if out := probe(url("", ""), "query"); out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), "UNAUTHENTICATED") {
		t.Fatalf("no token: %v", out)
	}
	if out := probe(url("wrong-token", ""), "query"); out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), "invalid token") {
		t.Fatalf("wrong token: %v", out)
	}
	// Alice leaves a session open; bob presents its id.
	var open struct {
		SessionID string `json:"session_id"`
	}
	pyspark(t, &open, "pyspark_temp_view.py", url(aliceTok, ""), "sec_v", "x")
	if out := probe(url(bobTok, ";session_id="+open.SessionID), "query"); out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), "PERMISSION_DENIED") {
		t.Fatalf("bob with alice's session id: %v", out)
	}
	// This bridge also protects spark.app.name: readable straight from the engine, redacted
	// through the bridge, in Get and GetAll alike.
	if direct := probe(harness.url("alice"), "read-secret"); direct["ok"] != true || direct["value"] == "*********(redacted)" || direct["value"] == "" {
		t.Fatalf("reading spark.app.name directly: %v", direct)
	}
	out := probe(url(aliceTok, ""), "read-secret")
	if out["ok"] != true || out["value"] != "*********(redacted)" || out["all"] != "*********(redacted)" {
		t.Fatalf("reading a protected conf through the bridge: %v", out)
	}
	if tok := fmt.Sprint(out["token"]); tok == harness.token || (tok != "*********(redacted)" && tok != "SparkNoSuchElementException") {
		t.Fatalf("reading the engine secret through the bridge gave %q", tok)
	}
	// Builder options with a protected key: the session opens, the other options apply, the
	// protected one does not reach the engine.
	if out := probe(url(aliceTok, ""), "builder-options"); out["ok"] != true || out["partitions"] != "3" || out["secret"] != "unset" {
		t.Fatalf("builder options with a protected key: %v", out)
	}

	// HiveServer2 over TLS, both transports, with the users file's password.
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	withTLS := func(password string) func(*gohive.ConnectConfiguration) {
		return func(c *gohive.ConnectConfiguration) {
			c.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "localhost"}
			c.Password = password
		}
	}
	for _, c := range []struct{ addr, transport string }{{b.thriftAddr, "binary"}, {b.httpAddr, "http"}} {
		rows, err := gohiveQueryWith(c.addr, c.transport, "NONE", "SELECT 'tls' AS v", withTLS("alice-pw"))
		if err != nil || len(rows) != 1 || rows[0]["v"] != "tls" {
			t.Fatalf("gohive %s over TLS: %v %v", c.transport, rows, err)
		}
		if _, err := gohiveQueryWith(c.addr, c.transport, "NONE", "SELECT 1", withTLS("wrong")); err == nil {
			t.Fatalf("gohive %s over TLS with a wrong password was served", c.transport)
		}
	}
	if out := probe(url(aliceTok, ""), "set-secret"); out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), "protected") {
		t.Fatalf("setting the engine secret: %v", out)
	}
}

// writeCert writes a self-signed certificate for localhost and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}
