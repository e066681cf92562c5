package thriftfront

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// FuzzSASLGSSAPI feeds arbitrary client messages to the SASL GSSAPI exchange, after its
// START, with a real acceptor: the framing, the krb5 token decoding and the security-layer
// unwrapping must refuse what they cannot read, never panic or read past the 64 KiB bound.
// The seeds (testdata/fuzz/FuzzSASLGSSAPI) hold a whole exchange with a ticket that has
// since expired, and broken variants of it.
func FuzzSASLGSSAPI(f *testing.F) {
	fx := newKrbFixture(f)
	tok, _ := fx.token(f, "alice")
	f.Add(saslMsg(saslOK, string(tok)))
	f.Add(append(saslMsg(saslOK, string(tok)), saslMsg(saslOK, "")...))
	f.Add(saslMsg(saslComplete, "\x60\x03\x06\x01\x00"))
	f.Add([]byte{saslOK, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out bytes.Buffer
		res, err := gssapiExchange(ctx, bytes.NewReader(in), &out, fx.acc)
		if err == nil && res.id.User == "" {
			t.Fatal("an exchange succeeded without an identity")
		}
	})
}

// FuzzSPNEGOHeader feeds arbitrary Authorization headers to the Negotiate parser and the
// SPNEGO/krb5 decoding behind it: refusals, never a panic.
func FuzzSPNEGOHeader(f *testing.F) {
	fx := newKrbFixture(f)
	inner, _ := fx.token(f, "alice")
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: inner}}
	tok, _ := st.Marshal()
	f.Add("Negotiate " + base64.StdEncoding.EncodeToString(tok))
	f.Add("Negotiate " + base64.StdEncoding.EncodeToString(inner))
	f.Add("Negotiate oYGhMIGeoAMKAQA=")
	f.Add("Basic YWxpY2U6cHc=")
	f.Add("Negotiate ")
	f.Fuzz(func(t *testing.T, header string) {
		token, ok, err := negotiateToken(header)
		if !ok || err != nil {
			return
		}
		id, _, err := fx.acc.AcceptSPNEGO(context.Background(), token)
		if err == nil && id.User == "" {
			t.Fatal("a Negotiate token was accepted without an identity")
		}
	})
}
