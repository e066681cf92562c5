package thriftfront

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// authCookie is the cookie HiveServer2 sets after a successful HTTP login; clients send it
// back so later requests skip the credential check.
const authCookie = "hive.server2.auth"

// cookieLifetime bounds how long an auth cookie is honoured.
const cookieLifetime = time.Hour

// HTTPHandler serves TCLIService over HTTP, HiveServer2's http transport mode: every POST
// body is one binary-protocol request and the response body its reply. Sessions live on
// across requests and connections until CloseSession or the idle reaper.
type HTTPHandler struct {
	h         *Handler
	log       *logrus.Entry
	proc      *hiveserver.TCLIServiceProcessor
	cookieKey []byte
	inFlight  atomic.Int64 // requests being served
}

var _ http.Handler = (*HTTPHandler)(nil)

// NewHTTPHandler returns the HTTP transport for h; mount it at the configured path.
func NewHTTPHandler(h *Handler, log *logrus.Entry) *HTTPHandler {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &HTTPHandler{h: h, log: log.WithField("component", "thriftfront-http"), proc: newProcessor(h, thrift.NewTBinaryProtocolFactoryConf(nil)), cookieKey: key}
}

// InFlight is the number of requests being served: during the drain, a call that has not
// returned yet (an OpenSession waiting for its engine, a metadata call, a fetch) is work in
// flight as much as a registered operation.
func (x *HTTPHandler) InFlight() int64 { return x.inFlight.Load() }

func (x *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x.inFlight.Add(1)
	defer x.inFlight.Add(-1)
	// A denied address is refused before its credentials are looked at.
	if err := x.h.cfg.Admission.CheckAddress(r.RemoteAddr); err != nil {
		x.h.cfg.Observer.ConnFailed(protoHTTP, "denied")
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "TCLIService over HTTP takes POST requests", http.StatusMethodNotAllowed)
		return
	}
	id, ok := x.cookieIdentity(r)
	if !ok {
		var err error
		id, ok, err = x.negotiate(w, r)
		if !ok {
			if token, bearer := bearerToken(r); bearer {
				id, err = x.bearerIdentity(r, token)
			} else {
				id, err = x.basicUser(r)
			}
		}
		if err != nil {
			if x.h.cfg.Kerberos != nil {
				w.Header().Set("WWW-Authenticate", "Negotiate")
			}
			w.Header().Add("WWW-Authenticate", `Basic realm="sparkbridge"`)
			// Bearer is offered where tokens are expected: with JWT, or to a client that sent one.
			if sentBearer(r) || slices.Contains(strings.Split(x.h.cfg.Auth.Mode(), ","), "JWT") {
				w.Header().Add("WWW-Authenticate", `Bearer realm="sparkbridge"`)
			}
			http.Error(w, err.Error(), http.StatusUnauthorized)
			x.log.WithField("remote", r.RemoteAddr).WithError(err).Debug("HTTP authentication failed") // the auth guard reports refusals in aggregate
			return
		}
		if !x.admitUser(w, r, id) {
			return
		}
		http.SetCookie(w, &http.Cookie{Name: authCookie, Value: x.signCookie(id), Path: "/", HttpOnly: true, Secure: r.TLS != nil, MaxAge: int(cookieLifetime.Seconds())})
	} else if !x.admitUser(w, r, id) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(x.h.cfg.MaxFrameSize)))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("request body exceeds the %d-byte limit", x.h.cfg.MaxFrameSize), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	trans := &httpTransport{in: bytes.NewReader(body)}
	conf := &thrift.TConfiguration{MaxMessageSize: int32(x.h.cfg.MaxFrameSize)}
	prot := thrift.NewTBinaryProtocolConf(trans, conf)
	ci := &connInfo{remote: r.RemoteAddr, id: id, authenticated: true, http: true}
	ctx := withConnInfo(r.Context(), ci)
	unknown := 0
	if _, err := processOne(ctx, x.proc, newBoundedProtocol(prot, trans), prot, &unknown); err != nil {
		var ae thrift.TApplicationException
		if !(errors.As(err, &ae) && ae.TypeId() == thrift.UNKNOWN_METHOD) {
			x.log.WithField("remote", r.RemoteAddr).WithError(err).Warn("bad HTTP request body")
			if trans.out.Len() == 0 {
				http.Error(w, "malformed Thrift request: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-thrift")
	_, _ = w.Write(trans.out.Bytes())
}

// admitUser refuses, with 403, a request of a denied user, whether it proved who it is with
// credentials or with a cookie; the connection caps apply at OpenSession.
func (x *HTTPHandler) admitUser(w http.ResponseWriter, r *http.Request, id auth.Identity) bool {
	if err := x.h.cfg.Admission.CheckUser(id.User, r.RemoteAddr); err != nil {
		x.h.cfg.Observer.ConnFailed(protoHTTP, "denied")
		http.Error(w, err.Error(), http.StatusForbidden)
		return false
	}
	return true
}

// basicUser authenticates HTTP Basic credentials with the auth provider. Without an
// Authorization header, a provider that trusts clients gets "anonymous".
func (x *HTTPHandler) basicUser(r *http.Request) (auth.Identity, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		if x.h.cfg.Auth.TrustsClients() && r.Header.Get("Authorization") == "" {
			return auth.Identity{User: "anonymous", Mechanism: x.h.cfg.Auth.Mode()}, nil
		}
		if x.h.cfg.Kerberos != nil {
			return auth.Identity{}, errors.New("authentication required: Kerberos (Negotiate) or HTTP Basic")
		}
		return auth.Identity{}, errors.New("HTTP Basic authentication required")
	}
	id, err := x.h.cfg.Auth.Password(auth.WithClientAddr(r.Context(), r.RemoteAddr), user, pass)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			x.h.cfg.Observer.AuthFailed(protoHTTP, "basic")
			if err != auth.ErrBadCredentials {
				// A refusal that says more (not in an allowed group, throttled) is for the user.
				return auth.Identity{}, fmt.Errorf("authentication failed: %w", err)
			}
		}
		return auth.Identity{}, errors.New("authentication failed")
	}
	return id, nil
}

// bearerToken returns the token of an "Authorization: Bearer" header. A request may carry
// several Authorization headers: Hive JDBC before 4.0 always sends Basic credentials
// (anonymous when none are given) and adds the ;http.header.Authorization=Bearer%20<jwt>
// of its URL as a second header; the bearer token is the credential the client chose.
func bearerToken(r *http.Request) (string, bool) {
	for _, v := range r.Header.Values("Authorization") {
		if scheme, token, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token), true
		}
	}
	return "", false
}

// sentBearer reports whether the request tried the Bearer scheme, a token or none.
func sentBearer(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(v), " "); strings.EqualFold(scheme, "Bearer") {
			return true
		}
	}
	return false
}

// bearerIdentity authenticates a bearer token (a JWT, or a users-file token) with the auth
// provider, through its Guard like every credential.
func (x *HTTPHandler) bearerIdentity(r *http.Request, token string) (auth.Identity, error) {
	if token == "" {
		return auth.Identity{}, errors.New("the bearer token is empty")
	}
	id, err := x.h.cfg.Auth.Token(auth.WithClientAddr(r.Context(), r.RemoteAddr), token, "")
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			x.h.cfg.Observer.AuthFailed(protoHTTP, "bearer")
		}
		return auth.Identity{}, errors.New("authentication failed: invalid bearer token")
	}
	return id, nil
}

// cookieClaims is what the auth cookie carries: the identity the request that set it
// proved, and when the cookie expires.
type cookieClaims struct {
	User      string   `json:"u"`
	Groups    []string `json:"g,omitempty"`
	Mechanism string   `json:"m,omitempty"`
	Expires   int64    `json:"exp"`
}

// signCookie is the auth cookie for id: the claims and their HMAC, each base64url.
func (x *HTTPHandler) signCookie(id auth.Identity) string {
	expires := time.Now().Add(cookieLifetime)
	if !id.Expires.IsZero() && id.Expires.Before(expires) {
		expires = id.Expires // the cookie does not outlive the token that earned it
	}
	claims, _ := json.Marshal(cookieClaims{User: id.User, Groups: id.Groups, Mechanism: id.Mechanism, Expires: expires.Unix()})
	payload := base64.RawURLEncoding.EncodeToString(claims)
	mac := hmac.New(sha256.New, x.cookieKey)
	mac.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// cookieIdentity returns the identity of a valid, unexpired auth cookie.
func (x *HTTPHandler) cookieIdentity(r *http.Request) (auth.Identity, bool) {
	c, err := r.Cookie(authCookie)
	if err != nil {
		return auth.Identity{}, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return auth.Identity{}, false
	}
	mac := hmac.New(sha256.New, x.cookieKey)
	mac.Write([]byte(payload))
	if !hmac.Equal([]byte(base64.RawURLEncoding.EncodeToString(mac.Sum(nil))), []byte(sig)) {
		return auth.Identity{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return auth.Identity{}, false
	}
	var cl cookieClaims
	if err := json.Unmarshal(raw, &cl); err != nil || cl.User == "" || time.Now().Unix() > cl.Expires {
		return auth.Identity{}, false
	}
	return auth.Identity{User: cl.User, Groups: cl.Groups, Mechanism: cl.Mechanism}, true
}

// httpTransport reads one request body and collects the reply.
type httpTransport struct {
	in  *bytes.Reader
	out bytes.Buffer
}

var _ thrift.TTransport = (*httpTransport)(nil)

func (t *httpTransport) Read(p []byte) (int, error)  { return t.in.Read(p) }
func (t *httpTransport) Write(p []byte) (int, error) { return t.out.Write(p) }
func (t *httpTransport) Flush(context.Context) error { return nil }
func (t *httpTransport) RemainingBytes() uint64      { return uint64(t.in.Len()) }
func (t *httpTransport) Open() error                 { return nil }
func (t *httpTransport) IsOpen() bool                { return true }
func (t *httpTransport) Close() error                { return nil }
