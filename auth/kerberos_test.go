package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/sirupsen/logrus"
)

// The package tests play the KDC and the client with gokrb5: a ticket made with the
// service's keytab is what a KDC would have issued. The real KDC is in itest.

const testRealm = "EXAMPLE.TEST"

// testKeytab writes a keytab holding principal's AES keys derived from password.
func testKeytab(t testing.TB, principal, password string, kvno uint8) (string, *keytab.Keytab) {
	t.Helper()
	realm := testRealm
	if p, r, ok := strings.Cut(principal, "@"); ok {
		principal, realm = p, r
	}
	kt := keytab.New()
	for _, et := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96} {
		if err := kt.AddEntry(principal, realm, password, time.Now(), kvno, et); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service.keytab")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, kt
}

type ticketOpts struct {
	client  string // alice
	crealm  string
	service string // hive/localhost
	srealm  string
	end     time.Time
	mutual  bool
	subkey  bool
}

// apReqToken is the krb5 GSS-API token a client would send with a ticket the KDC issued
// with kt, and the session key and subkey it holds.
func apReqToken(t testing.TB, kt *keytab.Keytab, o ticketOpts) ([]byte, types.EncryptionKey) {
	t.Helper()
	if o.crealm == "" {
		o.crealm = testRealm
	}
	if o.srealm == "" {
		o.srealm = testRealm
	}
	if o.end.IsZero() {
		o.end = time.Now().Add(time.Hour)
	}
	now := time.Now().UTC()
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, o.client)
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, o.service)
	tkt, sessionKey, err := messages.NewTicket(cname, o.crealm, sname, o.srealm, types.NewKrbFlags(), kt,
		etypeID.AES256_CTS_HMAC_SHA1_96, 1, now, now, o.end, o.end)
	if err != nil {
		t.Fatal(err)
	}
	a, err := types.NewAuthenticator(o.crealm, cname)
	if err != nil {
		t.Fatal(err)
	}
	cksum := make([]byte, 24)
	binary.LittleEndian.PutUint32(cksum, 16)
	flags := uint32(gssapi.ContextFlagInteg | gssapi.ContextFlagConf)
	if o.mutual {
		flags |= gssapi.ContextFlagMutual
	}
	binary.LittleEndian.PutUint32(cksum[20:], flags)
	a.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: cksum}
	key := sessionKey
	if o.subkey {
		et, _ := crypto.GetEtype(sessionKey.KeyType)
		kb := make([]byte, et.GetKeyByteSize())
		for i := range kb {
			kb[i] = byte(i * 7)
		}
		key = types.EncryptionKey{KeyType: sessionKey.KeyType, KeyValue: kb}
		a.SubKey = key
		a.SeqNumber = 12345
	}
	req, err := messages.NewAPReq(tkt, sessionKey, a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	return asn1tools.AddASNAppTag(append(append(oid, 1, 0), rb...), 0), key
}

func newTestKerberos(t testing.TB, rules string) (*Kerberos, *keytab.Keytab) {
	t.Helper()
	path, kt := testKeytab(t, "hive/bridge.example.test", "service-secret", 1)
	k, err := NewKerberos(KerberosConfig{Keytab: path, Principal: "hive/_HOST@" + testRealm, Host: "Bridge.Example.Test", AuthToLocal: rules})
	if err != nil {
		t.Fatal(err)
	}
	return k, kt
}

func TestKerberosAcceptsATicket(t *testing.T) {
	k, kt := newTestKerberos(t, "")
	if k.Principal() != "hive/bridge.example.test@"+testRealm {
		t.Fatalf("principal %q: _HOST must become the lower-case host name", k.Principal())
	}
	for _, subkey := range []bool{false, true} {
		tok, key := apReqToken(t, kt, ticketOpts{client: "alice", service: "hive/bridge.example.test", mutual: true, subkey: subkey})
		gc, err := k.AcceptGSS(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if gc.Identity.User != "alice" || gc.Identity.Mechanism != "KERBEROS" || gc.ClientPrincipal != "alice@"+testRealm {
			t.Fatalf("identity %+v, principal %q", gc.Identity, gc.ClientPrincipal)
		}
		// The AP-REP is a krb5 token whose encrypted part opens with the session key.
		var rep spnego.KRB5Token
		if err := rep.Unmarshal(gc.OutToken); err != nil || !rep.IsAPRep() {
			t.Fatalf("out token is not an AP-REP: %v", err)
		}
		// The security-layer offer verifies with the context key, as the client checks it.
		wrapped, err := gc.Wrap([]byte{1, 0, 0, 0})
		if err != nil {
			t.Fatal(err)
		}
		var wt gssapi.WrapToken
		if err := wt.Unmarshal(wrapped, true); err != nil {
			t.Fatal(err)
		}
		if ok, err := wt.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok {
			t.Fatalf("the acceptor's Wrap token does not verify with the client's key (subkey %v): %v", subkey, err)
		}
		// And the client's answer, integrity only, unwraps.
		answer, err := gssapi.NewInitiatorWrapToken([]byte{1, 0, 0, 0, 'b', 'o', 'b'}, key)
		if err != nil {
			t.Fatal(err)
		}
		ab, _ := answer.Marshal()
		got, err := gc.Unwrap(ab)
		if err != nil || string(got) != "\x01\x00\x00\x00bob" {
			t.Fatalf("Unwrap = %q, %v", got, err)
		}
		// A tampered answer does not.
		ab[len(ab)-1] ^= 1
		if _, err := gc.Unwrap(ab); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("a tampered Wrap token: %v", err)
		}
	}
}

func TestKerberosNoMutualNoAPRep(t *testing.T) {
	k, kt := newTestKerberos(t, "")
	tok, _ := apReqToken(t, kt, ticketOpts{client: "alice", service: "hive/bridge.example.test"})
	gc, err := k.AcceptGSS(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if gc.OutToken != nil {
		t.Fatal("an AP-REP was made for a client that did not ask for mutual authentication")
	}
}

func TestKerberosRefusals(t *testing.T) {
	k, kt := newTestKerberos(t, "")
	_, otherKT := testKeytab(t, "hive/bridge.example.test", "a-newer-key", 1)
	_, realmKT := testKeytab(t, "hive/bridge.example.test@OTHER.TEST", "service-secret", 1)
	_, httpKT := testKeytab(t, "HTTP/bridge.example.test", "http-secret", 1)
	good := ticketOpts{client: "alice", service: "hive/bridge.example.test", mutual: true}
	cases := []struct {
		name string
		kt   *keytab.Keytab
		edit func(*ticketOpts)
		tok  []byte
		want string
	}{
		{name: "another service", kt: httpKT, edit: func(o *ticketOpts) { o.service = "HTTP/bridge.example.test" }, want: "the ticket is for HTTP/bridge.example.test@EXAMPLE.TEST, and this service is hive/bridge.example.test@EXAMPLE.TEST"},
		{name: "another realm", kt: realmKT, edit: func(o *ticketOpts) { o.srealm = "OTHER.TEST" }, want: "this service is"},
		{name: "another key", kt: otherKT, want: "does not decrypt with this service's key"},
		{name: "expired", kt: kt, edit: func(o *ticketOpts) { o.end = time.Now().Add(-time.Hour) }, want: "KRB_AP_ERR_TKT_EXPIRED"},
		{name: "a foreign realm's user, DEFAULT rule", kt: kt, edit: func(o *ticketOpts) { o.crealm = "OTHER.TEST" }, want: "no auth_to_local rule maps principal alice@OTHER.TEST"},
		{name: "garbage", tok: []byte("\x60\x03garbage"), want: "not a Kerberos GSS-API token"},
		{name: "empty", tok: nil, want: "not a Kerberos GSS-API token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.tok
			if c.kt != nil {
				o := good
				if c.edit != nil {
					c.edit(&o)
				}
				tok, _ = apReqToken(t, c.kt, o)
			}
			_, err := k.AcceptGSS(context.Background(), tok)
			if !errors.Is(err, ErrBadCredentials) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrBadCredentials saying %q", err, c.want)
			}
		})
	}
}

func TestKerberosRefusesAReplay(t *testing.T) {
	k, kt := newTestKerberos(t, "")
	tok, _ := apReqToken(t, kt, ticketOpts{client: "replayed", service: "hive/bridge.example.test"})
	if _, err := k.AcceptGSS(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AcceptGSS(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("a replayed authenticator: %v", err)
	}
}

func TestKerberosUnwrapSealedAndRotated(t *testing.T) {
	k, kt := newTestKerberos(t, "")
	tok, key := apReqToken(t, kt, ticketOpts{client: "alice", service: "hive/bridge.example.test", subkey: true})
	gc, err := k.AcceptGSS(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte{1, 0, 0, 0, 'x'}
	const ec, rrc = 3, 28
	// The header inside the encryption carries EC but RRC 0; the one in front, both.
	hdr := []byte{0x05, 0x04, 0x02, 0xff, 0, ec, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}
	plain := append(append(append([]byte{}, payload...), make([]byte, ec)...), hdr...)
	et, _ := crypto.GetEtype(key.KeyType)
	_, ct, err := et.EncryptMessage(key.KeyValue, plain, keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil {
		t.Fatal(err)
	}
	rotated := append(append([]byte{}, ct[len(ct)-rrc:]...), ct[:len(ct)-rrc]...)
	sealed := append(append([]byte{}, hdr...), rotated...)
	binary.BigEndian.PutUint16(sealed[6:8], rrc)
	got, err := gc.Unwrap(sealed)
	if err != nil || string(got) != string(payload) {
		t.Fatalf("Unwrap(sealed) = %q, %v", got, err)
	}
}

func TestSPNEGO(t *testing.T) {
	k, kt := newTestKerberos(t, "")
	inner, _ := apReqToken(t, kt, ticketOpts{client: "alice", service: "hive/bridge.example.test", mutual: true})
	init := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{gssapi.OIDMSLegacyKRB5.OID(), gssapi.OIDKRB5.OID()}, MechTokenBytes: inner}}
	tok, err := init.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	id, out, err := k.AcceptSPNEGO(context.Background(), tok)
	if err != nil || id.User != "alice" {
		t.Fatalf("AcceptSPNEGO = %+v, %v", id, err)
	}
	var resp spnego.SPNEGOToken
	if err := resp.Unmarshal(out); err != nil || !resp.Resp {
		t.Fatalf("answer is not a NegTokenResp: %v", err)
	}
	r := resp.NegTokenResp
	if r.NegState != asn1.Enumerated(spnego.NegStateAcceptCompleted) || !r.SupportedMech.Equal(gssapi.OIDMSLegacyKRB5.OID()) || len(r.ResponseToken) == 0 {
		t.Fatalf("NegTokenResp %+v: want accept-completed, the client's first mechanism and an AP-REP", r)
	}

	// The bare krb5 token is accepted too, and answered with the bare AP-REP.
	bare, _ := apReqToken(t, kt, ticketOpts{client: "bob", service: "hive/bridge.example.test", mutual: true})
	id, out, err = k.AcceptSPNEGO(context.Background(), bare)
	if err != nil || id.User != "bob" || len(out) == 0 || out[0] != 0x60 {
		t.Fatalf("bare krb5 token: %+v %x %v", id, out, err)
	}

	// NTLM first is refused: the bridge speaks Kerberos only.
	ntlm := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}}, MechTokenBytes: []byte("NTLMSSP")}}
	nt, _ := ntlm.Marshal()
	if _, _, err := k.AcceptSPNEGO(context.Background(), nt); !errors.Is(err, ErrBadCredentials) || !strings.Contains(err.Error(), "Kerberos 5 only") {
		t.Fatalf("NTLM: %v", err)
	}
}

func TestNewKerberosChecksTheKeytab(t *testing.T) {
	path, _ := testKeytab(t, "hive/other.example.test", "x", 1)
	_, err := NewKerberos(KerberosConfig{Keytab: path, Principal: "hive/_HOST@" + testRealm, Host: "bridge.example.test"})
	if err == nil || !strings.Contains(err.Error(), "holds no key for hive/bridge.example.test@EXAMPLE.TEST") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewKerberos(KerberosConfig{Keytab: path, Principal: "hive/host"}); err == nil {
		t.Fatal("a principal without a realm was taken")
	}
}

func TestGuardGSSBacksOffAfterABadTicket(t *testing.T) {
	k, kt := newTestKerberos(t, "")
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg := DefaultGuardConfig()
	cfg.BackoffBase, cfg.BackoffMax = time.Hour, time.Hour // the second attempt would wait: it must be refused at once
	g := NewGuard(k, cfg, logrus.NewEntry(log))
	gss := g.GSS(k)
	ctx := WithClientAddr(context.Background(), "192.0.2.7:5000")
	if _, err := gss.AcceptGSS(ctx, []byte("garbage")); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("garbage: %v", err)
	}
	// A good ticket from the same address now waits out the backoff (an hour) before any
	// decryption: with a cancelled context it never gets to the check.
	tok, _ := apReqToken(t, kt, ticketOpts{client: "alice", service: "hive/bridge.example.test"})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := gss.AcceptGSS(cctx, tok); !errors.Is(err, context.Canceled) {
		t.Fatalf("an address in backoff: %v, want the wait to end with the context", err)
	}
	// Another address is not held back, and SPNEGO goes through the same gate.
	other := WithClientAddr(context.Background(), "192.0.2.8:5000")
	if _, err := gss.AcceptGSS(other, tok); err != nil {
		t.Fatal(err)
	}
	// The address is still in its hour of backoff, with an attempt queued: SPNEGO is refused
	// at once, before any parsing.
	if _, _, err := gss.AcceptSPNEGO(ctx, []byte("x")); !errors.Is(err, ErrThrottled) {
		t.Fatalf("SPNEGO from an address in backoff: %v, want ErrThrottled", err)
	}
	if KerberosOf(g) != k {
		t.Fatal("KerberosOf does not find the Kerberos provider behind the guard")
	}
}
