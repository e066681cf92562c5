package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/auth/jwtauth/jwttest"
)

// TestJWTAuth runs a bridge with -auth JWT,FILE against an identity provider made by the
// test (its keys, and a JWKS served over TLS; the one part of the OIDC setup a test may
// provide): PySpark (sc://localhost:port/;use_ssl=true;token=<jwt>) and beeline, impyla and
// PyHive over the HTTP transport (Authorization: Bearer <jwt>) run queries as the token's
// user; expired, wrong-audience, wrong-issuer, badly signed and alg=none tokens are refused
// on both protocols, each for its own reason; the identity provider's key rotation is
// picked up without a restart. The bridge shares engines by GROUP: the tokens' groups claim
// ("analysts") puts alice and bob on one launched engine, where current_user() is each
// token's user.
func TestJWTAuth(t *testing.T) {
	dir, err := os.MkdirTemp(workDir, "jwt-")
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := jwttest.NewRSA("idp-2024")
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := jwttest.NewEC("idp-2025")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := jwttest.NewRSA("idp-2024") // claims the IdP's kid, is not its key
	if err != nil {
		t.Fatal(err)
	}
	idp := jwttest.NewServer(true, oldKey)
	defer idp.Close()
	idpCA := filepath.Join(dir, "idp-ca.pem")
	if err := os.WriteFile(idpCA, idp.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	const issuer, audience = "https://idp.test/realms/corp", "sparkbridge"
	// The JWT settings come from the config file's "jwt" object.
	config := filepath.Join(dir, "jwt.json")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`{"engine": {"share_level": "GROUP"},
		"jwt": {"jwks_url": %q, "jwks_ca_file": %q, "issuer": %q, "audience": %q,
			"user_claim": "preferred_username", "groups_claim": "groups"}}`,
		idp.JWKSURL(), idpCA, issuer, audience)), 0o600); err != nil {
		t.Fatal(err)
	}
	usersFile := filepath.Join(dir, "users.json")
	if err := os.WriteFile(usersFile, []byte(`{"users": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writeCert(t, dir)
	clientEnv = []string{"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=" + certFile}
	defer func() { clientEnv = nil }()
	// The later -config replaces the harness's (no static engines here). Debug
	// logging shows why each token was refused; a short backoff keeps the refusals quick.
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, nil,
		"-config", config, "-auth", "JWT,FILE", "-users-file", usersFile, "-catalog", "in-memory",
		"-connect-tls-cert", certFile, "-connect-tls-key", keyFile, "-auth-backoff-max", "1s", "-log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	if n := idp.Fetches(); n != 1 {
		t.Fatalf("the bridge fetched the JWKS %d times at start, want 1", n)
	}

	n := 0
	token := func(key *jwttest.Key, user string, edit func(map[string]any)) string {
		n++
		now := time.Now()
		c := map[string]any{"iss": issuer, "aud": audience, "sub": "id-" + user, "preferred_username": user, "groups": []string{"analysts"},
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": fmt.Sprintf("%s-%d", randomMarker(), n)}
		if edit != nil {
			edit(c)
		}
		return key.Sign(c)
	}
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	bad := [][2]string{
		{"expired", token(oldKey, "mallory", set("exp", time.Now().Add(-10*time.Minute).Unix()))},
		{"wrong-audience", token(oldKey, "mallory", set("aud", "another-app"))},
		{"wrong-issuer", token(oldKey, "mallory", set("iss", "https://evil.test"))},
		{"bad-signature", token(stranger, "mallory", nil)},
		{"alg-none", jwttest.Unsigned("idp-2024", map[string]any{"iss": issuer, "aud": audience, "preferred_username": "mallory",
			"groups": []string{"analysts"}, "exp": time.Now().Add(time.Hour).Unix()})},
	}
	// Why jwtauth refused each (golang-jwt's messages, at debug level).
	reasons := map[string]string{"expired": "token is expired", "wrong-audience": "token has invalid audience",
		"wrong-issuer": "token has invalid issuer", "bad-signature": "signature is invalid", "alg-none": "signing method none is invalid"}

	connectBase := "sc://localhost:" + portOf(b.connectAddr) + "/;use_ssl=true;user_id=claimed"
	connect := func(cases [][2]string) map[string]map[string]any {
		t.Helper()
		arg, _ := json.Marshal(cases)
		var out map[string]map[string]any
		pyspark(t, &out, "pyspark_jwt.py", connectBase, string(arg))
		return out
	}

	// Spark Connect: the token's user, not the claimed user_id, runs the query.
	mark := len(b.log())
	got := connect(append([][2]string{{"good", token(oldKey, "alice", nil)}}, bad...))
	if g := got["good"]; g["ok"] != true || g["user"] != "alice" || g["value"] != 42.0 {
		t.Fatalf("PySpark with a good JWT: %v", g)
	}
	for _, c := range bad {
		if g := got[c[0]]; g["ok"] != false || !strings.Contains(fmt.Sprint(g["error"]), "UNAUTHENTICATED") {
			t.Errorf("PySpark with the %s token: %v, want UNAUTHENTICATED", c[0], g)
		}
	}
	checkReasons(t, b, mark, reasons)
	if !regexp.MustCompile(`msg="engine ready".* key=group/analysts `).MatchString(b.log()) {
		t.Fatalf("no engine of group analysts (the token's groups claim) started; log tail:\n%s", b.logTail(30))
	}

	// HiveServer2 over HTTP: beeline (Hive JDBC 2.3 has no auth=jwt; it sends the header
	// of ;http.header.Authorization=Bearer%20<jwt>), impyla (auth_mechanism JWT) and PyHive.
	if out, errOut, err := beelineJWT(b.httpAddr, token(oldKey, "alice", nil), "SELECT current_user() AS u, 40 + 2 AS v"); err != nil ||
		!strings.Contains(out, "alice,42") {
		t.Fatalf("beeline over HTTP with a good JWT: %v\nstdout:\n%s\nstderr:\n%s", err, tail(out, 10), tail(errOut, 20))
	}
	for _, which := range []string{"impyla", "pyhive"} {
		var out map[string]any
		pyspark(t, &out, "hs2_jwt.py", which, "127.0.0.1", portOf(b.httpAddr), token(oldKey, "alice", nil))
		if out["ok"] != true || out["user"] != "alice" {
			t.Fatalf("%s over HTTP with a good JWT: %v", which, out)
		}
	}
	mark = len(b.log())
	for _, c := range bad {
		out, errOut, err := beelineJWT(b.httpAddr, c[1], "SELECT 1")
		if err == nil || !strings.Contains(out+errOut, "401") {
			t.Errorf("beeline with the %s token: %v, want an HTTP 401\nstdout:\n%s\nstderr:\n%s", c[0], err, tail(out, 5), tail(errOut, 10))
		}
	}
	checkReasons(t, b, mark, reasons)
	var refused map[string]any
	pyspark(t, &refused, "hs2_jwt.py", "impyla", "127.0.0.1", portOf(b.httpAddr), bad[1][1])
	if refused["ok"] != false || !strings.Contains(fmt.Sprint(refused["error"]), "401") {
		t.Errorf("impyla with a wrong-audience token: %v", refused)
	}

	// The identity provider rotates its keys: the new key's tokens work at once (the
	// unknown kid fetches the JWKS again), the old key's stop working.
	idp.SetKeys(newKey)
	got = connect([][2]string{{"new-key", token(newKey, "bob", nil)}, {"old-key", token(oldKey, "alice", nil)}})
	if g := got["new-key"]; g["ok"] != true || g["user"] != "bob" {
		t.Fatalf("PySpark with a token of the rotated key: %v", g)
	}
	if g := got["old-key"]; g["ok"] != false || !strings.Contains(fmt.Sprint(g["error"]), "UNAUTHENTICATED") {
		t.Fatalf("PySpark with a token of the retired key: %v", g)
	}
	if out, errOut, err := beelineJWT(b.httpAddr, token(newKey, "bob", nil), "SELECT current_user() AS u"); err != nil || !strings.Contains(out, "bob") {
		t.Fatalf("beeline with a token of the rotated key: %v\nstdout:\n%s\nstderr:\n%s", err, tail(out, 10), tail(errOut, 20))
	}
	if n := idp.Fetches(); n != 2 {
		t.Fatalf("the JWKS was fetched %d times, want 2 (at start, and once for the rotation)", n)
	}
	if pids := b.enginePIDs(); len(pids) != 1 {
		t.Fatalf("engines %v; alice and bob, both analysts, should share one", pids)
	}
}

// checkReasons requires the bridge's log after mark to say why each bad token was refused.
func checkReasons(t *testing.T, b *bridgeProc, mark int, reasons map[string]string) {
	t.Helper()
	log := b.log()[mark:]
	for name, reason := range reasons {
		if !strings.Contains(log, reason) {
			t.Errorf("the bridge's log does not say %q for the %s token", reason, name)
		}
	}
}

// beelineJWT runs beeline over the HTTP transport with a JWT in the Authorization header.
func beelineJWT(addr, token, sql string) (string, string, error) {
	clientMu.Lock()
	defer clientMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url := "jdbc:hive2://" + addr + "/default;transportMode=http;httpPath=cliservice;http.header.Authorization=Bearer%20" + token
	cmd := exec.CommandContext(ctx, filepath.Join(bridge.sparkHome, "bin", "beeline"), "-u", url,
		"--outputformat=csv2", "--silent=true", "-e", sql)
	cmd.Env = append(os.Environ(), "SPARK_HOME="+bridge.sparkHome)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("beeline hung: %w", ctx.Err())
	}
	return stdout.String(), stderr.String(), err
}
