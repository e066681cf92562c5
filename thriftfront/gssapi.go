package thriftfront

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sparkbridge/sparkbridge/auth"
)

// SASL GSSAPI (RFC 4752) over Thrift's SASL framing, the server side, as HiveServer2 offers
// it with hive.server2.authentication=KERBEROS and QOP auth. After START "GSSAPI":
//
//	client OK|COMPLETE  krb5 initial context token (AP-REQ)
//	server OK           AP-REP                         (only if the client asked for mutual auth)
//	client OK|COMPLETE  empty
//	server OK           Wrap(0x01, 0x000000)           offer: no security layer, no buffer
//	client OK|COMPLETE  Wrap(qop, max size, authzid)   qop must be 0x01
//	server COMPLETE     empty
//
// Only QOP auth is accepted: integrity or privacy layers would wrap every later Thrift
// frame, which this transport does not do; for privacy, put TLS on the port. The authzid,
// when it names another user than the client's principal, is a request to act for that user
// (see OpenSession).

// qopAuth is the "no security layer" bit of the RFC 4752 security-layer bitmask.
const qopAuth = 0x01

// gssapiResult is what a SASL GSSAPI negotiation proved.
type gssapiResult struct {
	id        auth.Identity
	principal string // the client's principal, alice@EXAMPLE.COM
	authzid   string
}

// gssapiExchange runs SASL GSSAPI after its START message. A refused ticket is answered
// with a BAD message saying why, and returned as an error wrapping auth.ErrBadCredentials.
func gssapiExchange(ctx context.Context, r io.Reader, w io.Writer, acc auth.GSSAcceptor) (gssapiResult, error) {
	fail := func(status byte, err error) (gssapiResult, error) {
		_ = writeSASLMessage(w, status, []byte(err.Error()))
		return gssapiResult{}, err
	}
	token, err := readClientStep(r, "GSSAPI initial token")
	if err != nil {
		return fail(saslError, err)
	}
	gc, err := acc.AcceptGSS(ctx, token)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			return fail(saslBad, err)
		}
		return fail(saslError, fmt.Errorf("GSSAPI: %w", err))
	}
	if gc.OutToken != nil {
		if err := writeSASLMessage(w, saslOK, gc.OutToken); err != nil {
			return gssapiResult{}, err
		}
		empty, err := readClientStep(r, "GSSAPI answer to the AP-REP")
		if err != nil {
			return fail(saslError, err)
		}
		if len(empty) != 0 {
			return fail(saslError, fmt.Errorf("GSSAPI: the client answered the AP-REP with %d bytes, want none", len(empty)))
		}
	}
	offer, err := gc.Wrap([]byte{qopAuth, 0, 0, 0})
	if err != nil {
		return fail(saslError, fmt.Errorf("GSSAPI: %w", err))
	}
	if err := writeSASLMessage(w, saslOK, offer); err != nil {
		return gssapiResult{}, err
	}
	wrapped, err := readClientStep(r, "GSSAPI security-layer answer")
	if err != nil {
		return fail(saslError, err)
	}
	layer, err := gc.Unwrap(wrapped)
	if err != nil {
		return fail(saslBad, err)
	}
	qop, authzid, err := parseSecurityLayer(layer)
	if err != nil {
		return fail(saslBad, err)
	}
	if qop != qopAuth {
		return fail(saslBad, fmt.Errorf("%w: the client chose SASL QOP %s; sparkbridge offers QOP auth only (no integrity or privacy layer: use TLS for privacy), so set saslQop=auth", auth.ErrBadCredentials, qopName(qop)))
	}
	if err := writeSASLMessage(w, saslComplete, nil); err != nil {
		return gssapiResult{}, err
	}
	return gssapiResult{id: gc.Identity, principal: gc.ClientPrincipal, authzid: authzid}, nil
}

// readClientStep reads one client message of the exchange; Java clients send their last
// step as COMPLETE, others as OK.
func readClientStep(r io.Reader, what string) ([]byte, error) {
	status, payload, err := readSASLMessage(r)
	if err != nil {
		return nil, fmt.Errorf("reading the %s: %w", what, err)
	}
	if status != saslOK && status != saslComplete {
		return nil, fmt.Errorf("unexpected SASL status %d in the %s", status, what)
	}
	return payload, nil
}

// parseSecurityLayer splits the client's unwrapped answer (RFC 4752 3.1): the chosen layer,
// three bytes of maximum buffer size, then the authorization id in UTF-8.
func parseSecurityLayer(b []byte) (byte, string, error) {
	if len(b) < 4 {
		return 0, "", fmt.Errorf("%w: the GSSAPI security-layer answer has %d bytes, want at least 4", auth.ErrBadCredentials, len(b))
	}
	return b[0], string(b[4:]), nil
}

func qopName(q byte) string {
	switch q {
	case 1:
		return "auth"
	case 2:
		return "auth-int"
	case 4:
		return "auth-conf"
	}
	return fmt.Sprintf("0x%02x", q)
}

// proxyTarget is the user a SASL authorization id asks to act as: none when it is empty or
// names the client itself (pure-sasl sends the client's principal).
func proxyTarget(authzid string, id auth.Identity, principal string) string {
	if authzid == "" || authzid == id.User || authzid == principal {
		return ""
	}
	return authzid
}

// negotiateToken takes the token out of an "Authorization: Negotiate <base64>" header. ok is
// false when the header is of another scheme.
func negotiateToken(header string) (token []byte, ok bool, err error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Negotiate") {
		return nil, false, nil
	}
	// Hive JDBC 2.x sends "Negotiate : <token>"; HiveServer2 takes it, and so do we.
	rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
	if rest == "" {
		return nil, true, errors.New("the Negotiate header carries no token")
	}
	// Hive JDBC's commons-codec breaks the base64 into lines; some clients leave out the
	// padding.
	rest = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, rest)
	token, err = base64.StdEncoding.DecodeString(rest)
	if err != nil {
		if token, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
			return nil, true, errors.New("the Negotiate token is not base64")
		}
	}
	return token, true, nil
}

// negotiate authenticates an HTTP Negotiate (SPNEGO) header. ok is false when the request
// carries none; on success it sets the answering WWW-Authenticate header.
func (x *HTTPHandler) negotiate(w http.ResponseWriter, r *http.Request) (id auth.Identity, ok bool, err error) {
	acc := x.h.cfg.Kerberos
	if acc == nil {
		return auth.Identity{}, false, nil
	}
	token, ok, err := negotiateToken(r.Header.Get("Authorization"))
	if !ok {
		return auth.Identity{}, false, nil
	}
	if err == nil {
		var out []byte
		id, out, err = acc.AcceptSPNEGO(auth.WithClientAddr(r.Context(), r.RemoteAddr), token)
		if err == nil {
			if len(out) > 0 {
				w.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(out))
			}
			return id, true, nil
		}
	}
	if !errors.Is(err, context.Canceled) {
		x.h.cfg.Observer.AuthFailed(protoHTTP, "spnego")
	}
	return auth.Identity{}, true, err
}
