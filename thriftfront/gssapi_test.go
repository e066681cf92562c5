package thriftfront

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// krbFixture plays the KDC with gokrb5: it holds the service keytab and issues tickets for
// the service, which a real KDC would (itest has the real one).
type krbFixture struct {
	kt  *keytab.Keytab
	acc *auth.Kerberos
}

const krbRealm = "EXAMPLE.TEST"

func newKrbFixture(t testing.TB) *krbFixture { return newKrbFixtureKey(t, "service-secret") }

// newKrbFixtureKey is a fixture whose service key derives from secret.
func newKrbFixtureKey(t testing.TB, secret string) *krbFixture {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry("hive/localhost", krbRealm, secret, time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	b, _ := kt.Marshal()
	path := filepath.Join(t.TempDir(), "hive.keytab")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	acc, err := auth.NewKerberos(auth.KerberosConfig{Keytab: path, Principal: "hive/_HOST@" + krbRealm, Host: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return &krbFixture{kt: kt, acc: acc}
}

// token is a krb5 initial context token of client for the service, asking for mutual
// authentication, and the key the context then uses (the session key: no subkey).
func (f *krbFixture) token(t testing.TB, client string) ([]byte, types.EncryptionKey) {
	t.Helper()
	now := time.Now().UTC()
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, client)
	tkt, key, err := messages.NewTicket(cname, krbRealm, types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "hive/localhost"), krbRealm,
		types.NewKrbFlags(), f.kt, etypeID.AES256_CTS_HMAC_SHA1_96, 1, now, now, now.Add(time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := types.NewAuthenticator(krbRealm, cname)
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck, 16)
	binary.LittleEndian.PutUint32(ck[20:], uint32(gssapi.ContextFlagMutual|gssapi.ContextFlagInteg))
	a.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, a)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := req.Marshal()
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	return asn1tools.AddASNAppTag(append(append(oid, 1, 0), rb...), 0), key
}

// gssapiClient runs the client side of SASL GSSAPI on conn, choosing qop and sending
// authzid, and returns the server's last status and payload.
func gssapiClient(t *testing.T, conn net.Conn, token []byte, key types.EncryptionKey, qop byte, authzid string) (byte, string) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	must(writeSASLMessage(conn, saslStart, []byte("GSSAPI")))
	must(writeSASLMessage(conn, saslOK, token))
	st, rep, err := readSASLMessage(conn)
	must(err)
	if st != saslOK {
		return st, string(rep)
	}
	var kt spnego.KRB5Token
	if err := kt.Unmarshal(rep); err != nil || !kt.IsAPRep() {
		t.Fatalf("the server's answer is not an AP-REP: %v", err)
	}
	must(writeSASLMessage(conn, saslOK, nil))
	st, offer, err := readSASLMessage(conn)
	must(err)
	var wt gssapi.WrapToken
	must(wt.Unmarshal(offer, true))
	if ok, err := wt.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok {
		t.Fatalf("the security-layer offer does not verify: %v", err)
	}
	if st != saslOK || !bytes.Equal(wt.Payload, []byte{qopAuth, 0, 0, 0}) {
		t.Fatalf("offer %d %x, want OK and auth only with no buffer", st, wt.Payload)
	}
	answer, err := gssapi.NewInitiatorWrapToken(append([]byte{qop, 0, 0, 0}, authzid...), key)
	must(err)
	ab, _ := answer.Marshal()
	must(writeSASLMessage(conn, saslComplete, ab))
	st, last, err := readSASLMessage(conn)
	must(err)
	return st, string(last)
}

func startKerberosBridge(t *testing.T, proxies auth.ProxyUsers) (*testBridge, *krbFixture) {
	t.Helper()
	f := newKrbFixture(t)
	cfg := DefaultConfig()
	cfg.Auth, cfg.Kerberos, cfg.ProxyUsers = f.acc, f.acc, proxies
	b, _ := startBridgeWith(t, cfg)
	return b, f
}

func dialKerberos(t *testing.T, b *testBridge, f *krbFixture, client, authzid string) *hiveserver.TCLIServiceClient {
	t.Helper()
	conn, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tok, key := f.token(t, client)
	if st, msg := gssapiClient(t, conn, tok, key, qopAuth, authzid); st != saslComplete {
		t.Fatalf("SASL GSSAPI ended with status %d: %s", st, msg)
	}
	trans := thrift.NewTFramedTransportConf(thrift.NewTSocketFromConnConf(conn, nil), nil)
	return hiveserver.NewTCLIServiceClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
}

func TestSASLGSSAPIPrincipalIsTheIdentity(t *testing.T) {
	b, f := startKerberosBridge(t, auth.ProxyUsers{"svc": {"bob"}})
	// pure-sasl sends the client's principal as the authorization id: no impersonation.
	c := dialKerberos(t, b, f, "alice", "alice@"+krbRealm)
	openSession(t, c, "mallory", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	s := b.mgr.Sessions(engine.Filter{})
	if len(s) != 1 || s[0].User != "alice" || s[0].AuthMechanism != "KERBEROS" {
		t.Fatalf("sessions %+v, want alice's, by KERBEROS", s)
	}
}

func TestSASLGSSAPIProxyUser(t *testing.T) {
	b, f := startKerberosBridge(t, auth.ProxyUsers{"svc": {"bob"}})
	// The SASL authorization id asks to act as bob: svc may.
	c := dialKerberos(t, b, f, "svc", "bob")
	openSession(t, c, "", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	// hive.server2.proxy.user asks the same on another connection.
	c2 := dialKerberos(t, b, f, "svc", "")
	openWithConf(t, c2, map[string]string{"hive.server2.proxy.user": "bob"})
	for _, s := range b.mgr.Sessions(engine.Filter{}) {
		if s.User != "bob" || s.AuthMechanism != "KERBEROS;proxy-by=svc" {
			t.Fatalf("session %+v, want bob's, proxied by svc", s)
		}
	}
	// svc may not be carol, nor may alice be bob: refused with a clear message.
	for _, try := range []struct{ client, target string }{{"svc", "carol"}, {"alice", "bob"}} {
		c := dialKerberos(t, b, f, try.client, "")
		user := ""
		resp, err := c.OpenSession(context.Background(), &hiveserver.TOpenSessionReq{ClientProtocol: hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10,
			Username: &user, Configuration: map[string]string{"hive.server2.proxy.user": try.target}})
		if err != nil {
			t.Fatal(err)
		}
		want := "Failed to validate proxy privilege: user " + try.client + " is not allowed to impersonate " + try.target
		if resp.Status.StatusCode != hiveserver.TStatusCode_ERROR_STATUS || !strings.Contains(resp.Status.GetErrorMessage(), want) {
			t.Fatalf("%s as %s: %v %q", try.client, try.target, resp.Status.StatusCode, resp.Status.GetErrorMessage())
		}
	}
}

func TestSASLGSSAPIRefusals(t *testing.T) {
	b, f := startKerberosBridge(t, nil)
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	// A privacy layer is refused, naming what to set.
	tok, key := f.token(t, "alice")
	st, msg := gssapiClient(t, dial(), tok, key, 4, "")
	if st != saslBad || !strings.Contains(msg, "the client chose SASL QOP auth-conf; sparkbridge offers QOP auth only") {
		t.Fatalf("auth-conf: status %d %q", st, msg)
	}
	// A garbled token is refused with a BAD message that says so.
	conn := dial()
	_ = writeSASLMessage(conn, saslStart, []byte("GSSAPI"))
	_ = writeSASLMessage(conn, saslOK, []byte("\x60\x05garbage"))
	st, payload, err := readSASLMessage(conn)
	if err != nil || st != saslBad || !strings.Contains(string(payload), "Kerberos authentication failed: not a Kerberos GSS-API token") {
		t.Fatalf("garbled token: %d %q %v", st, payload, err)
	}
	// A ticket for another service's key is refused.
	other := newKrbFixtureKey(t, "the key before a ktadd -randkey")
	tok, _ = other.token(t, "alice")
	conn = dial()
	_ = writeSASLMessage(conn, saslStart, []byte("GSSAPI"))
	_ = writeSASLMessage(conn, saslOK, tok)
	st, payload, _ = readSASLMessage(conn)
	if st != saslBad || !strings.Contains(string(payload), "does not decrypt with this service's key") {
		t.Fatalf("a ticket of another key: %d %q", st, payload)
	}
}

func TestGSSAPIOffWithoutKerberos(t *testing.T) {
	b := startBridge(t)
	conn, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = writeSASLMessage(conn, saslStart, []byte("GSSAPI"))
	st, payload, _ := readSASLMessage(conn)
	if st != saslBad || !strings.Contains(string(payload), "Kerberos is off") {
		t.Fatalf("GSSAPI without Kerberos: %d %q", st, payload)
	}
}

func TestHTTPSPNEGO(t *testing.T) {
	f := newKrbFixture(t)
	_, mgr, entry := newFakeEngine(t)
	cfg := DefaultConfig()
	cfg.Auth, cfg.Kerberos = f.acc, f.acc
	mem := checkedAllocator(nil)
	cfg.Allocator = mem
	h := NewHandler(cfg, mgr, entry)
	srv := httptest.NewServer(NewHTTPHandler(h, entry))
	t.Cleanup(func() { srv.Close(); h.Close(); mem.AssertSize(t, 0) })

	post := func(authz string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(""))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// No credentials: challenged with Negotiate (and Basic, for chained password modes).
	resp := post("")
	if resp.StatusCode != http.StatusUnauthorized || strings.Join(resp.Header.Values("WWW-Authenticate"), "|") != `Negotiate|Basic realm="sparkbridge"` {
		t.Fatalf("no credentials: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	// A SPNEGO token: accepted, answered with a NegTokenResp, and a cookie that carries the
	// identity to the next requests.
	inner, _ := f.token(t, "alice")
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: inner}}
	tok, _ := st.Marshal()
	resp = post("Negotiate " + base64.StdEncoding.EncodeToString(tok))
	if resp.StatusCode == http.StatusUnauthorized {
		t.Fatalf("a good SPNEGO token was refused")
	}
	answer, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate ")
	raw, err := base64.StdEncoding.DecodeString(answer)
	var back spnego.SPNEGOToken
	if !ok || err != nil || back.Unmarshal(raw) != nil || !back.Resp {
		t.Fatalf("the answer %q is not a Negotiate NegTokenResp", resp.Header.Get("WWW-Authenticate"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == authCookie {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no auth cookie after SPNEGO")
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(""))
	req.AddCookie(cookie)
	cresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cresp.Body.Close()
	if cresp.StatusCode == http.StatusUnauthorized {
		t.Fatal("the cookie set after SPNEGO was not honoured")
	}
	// A replayed token and a garbled one are refused, with a reason and a new challenge.
	for _, bad := range []string{"Negotiate " + base64.StdEncoding.EncodeToString(tok), "Negotiate !!!", "Negotiate"} {
		resp = post(bad)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Values("WWW-Authenticate")[0] != "Negotiate" {
			t.Fatalf("%q: %d %q", bad, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
	}
}

func TestNegotiateToken(t *testing.T) {
	for header, want := range map[string]struct {
		tok    string
		ok, er bool
	}{
		"Negotiate YWJj":     {"abc", true, false},
		"negotiate  YWJj ":   {"abc", true, false},
		"Negotiate YW\r\nJj": {"abc", true, false}, // Hive JDBC's line breaks
		"Negotiate : YWJj":   {"abc", true, false}, // Hive JDBC 2.x
		"Negotiate YWI":      {"ab", true, false},  // no padding
		"Basic YWJj":         {"", false, false},
		"Negotiate":          {"", true, true},
		"Negotiate %%%":      {"", true, true},
		"":                   {"", false, false},
	} {
		tok, ok, err := negotiateToken(header)
		if string(tok) != want.tok || ok != want.ok || (err != nil) != want.er {
			t.Errorf("%q: %q %v %v", header, tok, ok, err)
		}
	}
}
