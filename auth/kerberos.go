package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/krberror"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// KerberosConfig configures the Kerberos acceptor.
type KerberosConfig struct {
	// Keytab is the service keytab file (ktadd -k).
	Keytab string
	// Principal is the service principal, hive/_HOST@EXAMPLE.COM; _HOST stands for Host.
	Principal string
	// Host replaces _HOST in Principal: the bridge's host name, lower case.
	Host string
	// AuthToLocal maps principals to user names (see NameRules); empty means DEFAULT.
	AuthToLocal string
	// MaxClockSkew bounds the difference between a client's clock and ours; 0 means 5 minutes.
	MaxClockSkew time.Duration
}

// Kerberos accepts Kerberos service tickets for one service principal, with its keytab: the
// GSS-API krb5 mechanism (RFC 4121) that HiveServer2's SASL GSSAPI and HTTP SPNEGO carry.
// The short name its NameRules give the client's principal is the identity (mechanism
// KERBEROS).
//
// It is a Provider too, one that checks no password or token: in a chain (KERBEROS,LDAP) it
// stands for the GSSAPI and SPNEGO mechanisms, which the frontends offer when the chain
// holds it (see KerberosOf), while the providers after it check passwords.
type Kerberos struct {
	kt        *keytab.Keytab
	principal types.PrincipalName
	realm     string
	name      string // the principal, as configured and resolved
	rules     *NameRules
	skew      time.Duration
}

var _ Provider = (*Kerberos)(nil)

// NewKerberos loads the keytab and checks that it holds a key for the principal.
func NewKerberos(cfg KerberosConfig) (*Kerberos, error) {
	if cfg.Keytab == "" || cfg.Principal == "" {
		return nil, errors.New("Kerberos needs a keytab and a service principal")
	}
	name := strings.ReplaceAll(cfg.Principal, "_HOST", strings.ToLower(cfg.Host))
	spn, realm, ok := strings.Cut(name, "@")
	if !ok || spn == "" || realm == "" || strings.Contains(realm, "@") {
		return nil, fmt.Errorf("Kerberos service principal %q: want service/host@REALM", cfg.Principal)
	}
	kt, err := keytab.Load(cfg.Keytab)
	if err != nil {
		return nil, fmt.Errorf("Kerberos keytab %s: %w", cfg.Keytab, err)
	}
	pn := types.NewPrincipalName(0, spn)
	found := false
	for _, e := range kt.Entries {
		if e.Principal.Realm == realm && slicesEqual(e.Principal.Components, pn.NameString) {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("Kerberos keytab %s holds no key for %s", cfg.Keytab, name)
	}
	rules, err := ParseNameRules(cfg.AuthToLocal, realm)
	if err != nil {
		return nil, err
	}
	skew := cfg.MaxClockSkew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	return &Kerberos{kt: kt, principal: pn, realm: realm, name: name, rules: rules, skew: skew}, nil
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Principal is the service principal, _HOST resolved.
func (k *Kerberos) Principal() string { return k.name }

// Password refuses: Kerberos checks no passwords (a chained provider may).
func (k *Kerberos) Password(context.Context, string, string) (Identity, error) {
	return Identity{}, ErrBadCredentials
}

// Token refuses: Kerberos checks no bearer tokens.
func (k *Kerberos) Token(context.Context, string, string) (Identity, error) {
	return Identity{}, ErrBadCredentials
}

func (k *Kerberos) TrustsClients() bool { return false }
func (k *Kerberos) Mode() string        { return "KERBEROS" }

// ErrKerberos wraps every refused ticket or token. It wraps ErrBadCredentials, so that
// frontends answer it as a failed login; its message says what was wrong with the ticket
// (never anything about the service's keys).
type ErrKerberos struct{ Reason string }

func (e *ErrKerberos) Error() string { return "Kerberos authentication failed: " + e.Reason }
func (e *ErrKerberos) Unwrap() error { return ErrBadCredentials }

func refused(format string, args ...any) error {
	return &ErrKerberos{Reason: fmt.Sprintf(format, args...)}
}

// GSSContext is an established krb5 security context, on the acceptor's side: who the client
// is, the token to send back, and the key that Wrap and Unwrap use for the SASL security-layer
// negotiation (RFC 4752) that follows.
type GSSContext struct {
	// Identity is the client's user name, after the NameRules.
	Identity Identity
	// ClientPrincipal is the client's full principal, alice@EXAMPLE.COM.
	ClientPrincipal string
	// OutToken is the AP-REP to send back when the client asked for mutual authentication,
	// framed as a krb5 GSS-API token; nil when it did not.
	OutToken []byte

	key     types.EncryptionKey // the authenticator's subkey, else the ticket's session key
	sendSeq uint64              // the acceptor's sequence number, as the AP-REP told the client
}

// gssFlagMutual is GSS_C_MUTUAL_FLAG in the authenticator checksum (RFC 4121 4.1.1.1).
const gssFlagMutual = 2

// gssChecksumType is the authenticator checksum type that carries GSS-API flags.
const gssChecksumType = 0x8003

// AcceptGSS verifies an initial krb5 GSS-API context token (0x60, the krb5 mechanism OID, an
// AP-REQ) against the keytab: the ticket must be for this service's principal and realm,
// current, and not replayed. The refusal says why, in words fit for the client and the log.
func (k *Kerberos) AcceptGSS(_ context.Context, token []byte) (gc *GSSContext, err error) {
	// A token is a client's bytes, decoded by a library: whatever it does with them, a
	// malformed one is a refusal, never a crashed bridge.
	defer func() {
		if r := recover(); r != nil {
			gc, err = nil, refused("malformed Kerberos token")
		}
	}()
	var kt spnego.KRB5Token
	if err := kt.Unmarshal(token); err != nil {
		return nil, refused("not a Kerberos GSS-API token: %v", err)
	}
	if !kt.IsAPReq() {
		return nil, refused("the GSS-API token is not a Kerberos AP-REQ")
	}
	return k.acceptAPReq(&kt.APReq)
}

func (k *Kerberos) acceptAPReq(req *messages.APReq) (*GSSContext, error) {
	if req.Ticket.Realm != k.realm || !slicesEqual(req.Ticket.SName.NameString, k.principal.NameString) {
		return nil, refused("the ticket is for %s@%s, and this service is %s", req.Ticket.SName.PrincipalNameString(), req.Ticket.Realm, k.name)
	}
	settings := service.NewSettings(k.kt, service.MaxClockSkew(k.skew), service.DecodePAC(false),
		service.KeytabPrincipal(k.principal.PrincipalNameString()))
	ok, creds, err := service.VerifyAPREQ(req, settings)
	if err != nil {
		return nil, refused("%s", ticketError(err))
	}
	if !ok || creds == nil {
		return nil, refused("the ticket is not valid")
	}
	principal := creds.CName().PrincipalNameString() + "@" + creds.Realm()
	user, err := k.rules.ShortName(principal)
	if err != nil {
		return nil, refused("%v", err)
	}
	a := req.Authenticator
	gc := &GSSContext{Identity: Identity{User: user, Mechanism: "KERBEROS"}, ClientPrincipal: principal,
		key: req.Ticket.DecryptedEncPart.Key}
	if len(a.SubKey.KeyValue) > 0 {
		gc.key = a.SubKey
	}
	seq, err := rand.Int(rand.Reader, big.NewInt(1<<30))
	if err != nil {
		return nil, err
	}
	gc.sendSeq = seq.Uint64()
	if mutualRequested(a.Cksum) {
		if gc.OutToken, err = k.apRep(req, gc.sendSeq); err != nil {
			return nil, err
		}
	}
	return gc, nil
}

// ticketError turns gokrb5's layered errors into the reason a client can act on.
func ticketError(err error) string {
	var ke messages.KRBError
	if errors.As(err, &ke) {
		return strings.TrimPrefix(ke.Error(), "KRB Error: ")
	}
	var kerr krberror.Krberror
	if errors.As(err, &kerr) && kerr.RootCause == krberror.DecryptingError {
		return "the ticket does not decrypt with this service's key (a keytab older than the principal's key, or a ticket for another key version)"
	}
	return err.Error()
}

func mutualRequested(c types.Checksum) bool {
	if c.CksumType != gssChecksumType || len(c.Checksum) < 24 {
		return false
	}
	return binary.LittleEndian.Uint32(c.Checksum[20:24])&gssFlagMutual != 0
}

// encAPRepPart is EncAPRepPart without the subkey: the acceptor asserts none, so the
// client's subkey (or the session key) protects what follows.
type encAPRepPart struct {
	CTime          time.Time `asn1:"generalized,explicit,tag:0"`
	Cusec          int       `asn1:"explicit,tag:1"`
	SequenceNumber int64     `asn1:"explicit,tag:3"`
}

type apRep struct {
	PVNO    int                 `asn1:"explicit,tag:0"`
	MsgType int                 `asn1:"explicit,tag:1"`
	EncPart types.EncryptedData `asn1:"explicit,tag:2"`
}

// apRep is the AP-REP for req, as a krb5 GSS-API token (RFC 1964 1.1: 0x60, the mechanism
// OID, TOK_ID 02 00, the AP-REP).
func (k *Kerberos) apRep(req *messages.APReq, seq uint64) ([]byte, error) {
	part, err := asn1.Marshal(encAPRepPart{CTime: req.Authenticator.CTime, Cusec: req.Authenticator.Cusec, SequenceNumber: int64(seq)})
	if err != nil {
		return nil, err
	}
	part = asn1tools.AddASNAppTag(part, asnAppTag.EncAPRepPart)
	enc, err := crypto.GetEncryptedData(part, req.Ticket.DecryptedEncPart.Key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rep, err := asn1.Marshal(apRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: enc})
	if err != nil {
		return nil, err
	}
	rep = asn1tools.AddASNAppTag(rep, asnAppTag.APREP)
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	tok := append(append(oid, 0x02, 0x00), rep...)
	return asn1tools.AddASNAppTag(tok, 0), nil
}

// Wrap protects payload for the client, integrity only (an RFC 4121 Wrap token sent by the
// acceptor, unsealed): the SASL GSSAPI security-layer offer.
func (gc *GSSContext) Wrap(payload []byte) ([]byte, error) {
	et, err := crypto.GetEtype(gc.key.KeyType)
	if err != nil {
		return nil, err
	}
	wt := gssapi.WrapToken{Flags: 0x01, EC: uint16(et.GetHMACBitLength() / 8), SndSeqNum: gc.sendSeq, Payload: payload}
	if err := wt.SetCheckSum(gc.key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		return nil, err
	}
	gc.sendSeq++
	return wt.Marshal()
}

// Unwrap checks an RFC 4121 Wrap token from the client and returns its payload; sealed
// (encrypted) tokens are decrypted.
func (gc *GSSContext) Unwrap(tok []byte) ([]byte, error) {
	if len(tok) < gssapi.HdrLen || tok[0] != 0x05 || tok[1] != 0x04 {
		if len(tok) >= 2 && tok[0] == 0x60 {
			return nil, refused("the client sent an RFC 1964 wrap token: only the AES encryption types (RFC 4121 tokens) are supported")
		}
		return nil, refused("the client's security-layer answer is not a GSS-API Wrap token")
	}
	flags := tok[2]
	if flags&0x01 != 0 {
		return nil, refused("the client's Wrap token claims to come from the acceptor")
	}
	if flags&0x04 != 0 {
		return nil, refused("the client's Wrap token uses an acceptor subkey, and none was sent")
	}
	if tok[3] != 0xff {
		return nil, refused("malformed Wrap token")
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	body := rotateLeft(tok[gssapi.HdrLen:], rrc)
	if flags&0x02 == 0 {
		full := append(append([]byte{}, tok[:gssapi.HdrLen]...), body...)
		binary.BigEndian.PutUint16(full[6:8], 0)
		var wt gssapi.WrapToken
		if err := wt.Unmarshal(full, false); err != nil {
			return nil, refused("malformed Wrap token: %v", err)
		}
		if ok, err := wt.Verify(gc.key, keyusage.GSSAPI_INITIATOR_SEAL); !ok || err != nil {
			return nil, refused("the client's Wrap token does not verify")
		}
		return wt.Payload, nil
	}
	// Sealed: body is E(plaintext | EC filler bytes | the header with RRC 0).
	plain, err := crypto.DecryptMessage(body, gc.key, keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil {
		return nil, refused("the client's sealed Wrap token does not decrypt")
	}
	if len(plain) < gssapi.HdrLen+ec {
		return nil, refused("malformed sealed Wrap token")
	}
	hdr := append([]byte{}, tok[:gssapi.HdrLen]...)
	binary.BigEndian.PutUint16(hdr[6:8], 0)
	if !bytes.Equal(plain[len(plain)-gssapi.HdrLen:], hdr) {
		return nil, refused("the sealed Wrap token's header does not match")
	}
	return plain[:len(plain)-gssapi.HdrLen-ec], nil
}

// rotateLeft undoes the sender's right rotation by rrc bytes (RFC 4121 4.2.5).
func rotateLeft(b []byte, rrc int) []byte {
	if len(b) == 0 {
		return nil
	}
	rrc %= len(b)
	return append(append([]byte{}, b[rrc:]...), b[:rrc]...)
}

// AcceptSPNEGO verifies the token of an HTTP "Authorization: Negotiate" header: a SPNEGO
// NegTokenInit whose optimistic mechanism token is a krb5 AP-REQ (or, as some clients send,
// the bare krb5 token). It returns the identity and the token of the answering
// "WWW-Authenticate: Negotiate" header: a NegTokenResp, accept-completed, carrying the
// AP-REP when the client asked for mutual authentication.
func (k *Kerberos) AcceptSPNEGO(ctx context.Context, token []byte) (Identity, []byte, error) {
	mech, inner, err := ParseSPNEGO(token)
	if err != nil {
		return Identity{}, nil, refused("%v", err)
	}
	gc, err := k.AcceptGSS(ctx, inner)
	if err != nil {
		return Identity{}, nil, err
	}
	if mech == nil { // the bare krb5 token: answer in kind
		return gc.Identity, gc.OutToken, nil
	}
	resp := spnego.NegTokenResp{NegState: asn1.Enumerated(spnego.NegStateAcceptCompleted), SupportedMech: mech, ResponseToken: gc.OutToken}
	out, err := resp.Marshal()
	if err != nil {
		return Identity{}, nil, err
	}
	return gc.Identity, out, nil
}

// ParseSPNEGO takes a Negotiate token apart: the krb5 mechanism the client proposed (nil for
// a bare krb5 token) and the krb5 token itself. A NegTokenInit must propose a krb5
// mechanism (standard or Microsoft's legacy OID) first, with its token: the bridge answers in
// one round trip, as HTTP allows.
func ParseSPNEGO(token []byte) (mech asn1.ObjectIdentifier, inner []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			mech, inner, err = nil, nil, errors.New("malformed SPNEGO token")
		}
	}()
	if len(token) == 0 {
		return nil, nil, errors.New("empty Negotiate token")
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.UnmarshalWithParams(token, &oid, "application,explicit,tag:0"); err == nil && oid.Equal(gssapi.OIDKRB5.OID()) {
		return nil, token, nil
	}
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(token); err != nil {
		return nil, nil, fmt.Errorf("not a SPNEGO token: %v", err)
	}
	if !st.Init {
		return nil, nil, errors.New("the SPNEGO token is not a NegTokenInit")
	}
	in := st.NegTokenInit
	if len(in.MechTypes) == 0 {
		return nil, nil, errors.New("the SPNEGO NegTokenInit proposes no mechanism")
	}
	first := in.MechTypes[0]
	if !first.Equal(gssapi.OIDKRB5.OID()) && !first.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return nil, nil, fmt.Errorf("the SPNEGO NegTokenInit proposes mechanism %s first; this server accepts Kerberos 5 only", first)
	}
	if len(in.MechTokenBytes) == 0 {
		return nil, nil, errors.New("the SPNEGO NegTokenInit carries no Kerberos token")
	}
	return first, in.MechTokenBytes, nil
}

// GSSAcceptor is what the frontends need of Kerberos: Guard.GSS wraps a Kerberos with the
// failed-attempt backoff.
type GSSAcceptor interface {
	// AcceptGSS accepts a krb5 GSS-API initial context token (SASL GSSAPI).
	AcceptGSS(ctx context.Context, token []byte) (*GSSContext, error)
	// AcceptSPNEGO accepts an HTTP Negotiate token and returns the token to answer with.
	AcceptSPNEGO(ctx context.Context, token []byte) (Identity, []byte, error)
	// Principal is the service principal, for messages.
	Principal() string
}

var _ GSSAcceptor = (*Kerberos)(nil)

// KerberosOf finds the Kerberos provider in p (a Guard's, a Chain's), or nil.
func KerberosOf(p Provider) *Kerberos {
	switch v := p.(type) {
	case *Kerberos:
		return v
	case *Guard:
		return KerberosOf(v.inner)
	case Chain:
		for _, q := range v {
			if k := KerberosOf(q); k != nil {
				return k
			}
		}
	}
	return nil
}
