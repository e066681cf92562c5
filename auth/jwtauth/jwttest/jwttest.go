// Package jwttest is an identity provider for tests: signing keys made on the spot, a JWKS
// server that publishes them (and can be switched to other keys, as a key rotation does),
// and tokens signed with them, well or badly. The JWKS is written here by hand rather than
// by the library the bridge parses it with, so that the two cannot share a mistake.
//
// It is used by the package tests of jwtauth and by the itest; the bridge never imports it.
// jwttest may import golang-jwt (to sign) and the standard library.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
)

// Key is a signing key and how the JWKS names it.
type Key struct {
	KID    string
	Alg    string // RS256, ES256...
	Signer crypto.Signer
}

// NewRSA makes a 2048-bit RSA key for RS256.
func NewRSA(kid string) (*Key, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Key{KID: kid, Alg: "RS256", Signer: k}, nil
}

// NewEC makes a P-256 key for ES256.
func NewEC(kid string) (*Key, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{KID: kid, Alg: "ES256", Signer: k}, nil
}

var b64 = base64.RawURLEncoding

// JWK is the key's public half as a JSON Web Key.
func (k *Key) JWK() map[string]string {
	m := map[string]string{"kid": k.KID, "alg": k.Alg, "use": "sig"}
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64.EncodeToString(pub.N.Bytes()), b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes() // 0x04 || X || Y, 32 bytes each for P-256
		if err != nil || len(raw) != 65 {
			panic(fmt.Sprintf("jwttest: P-256 key encodes to %d bytes: %v", len(raw), err))
		}
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:])
	}
	return m
}

// Sign returns a token with claims, signed by k and naming its kid.
func (k *Key) Sign(claims map[string]any) string {
	t := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), jwt.MapClaims(claims))
	t.Header["kid"] = k.KID
	s, err := t.SignedString(k.Signer)
	if err != nil {
		panic("jwttest: signing: " + err.Error())
	}
	return s
}

// SignAs signs claims with k but names kid: a token that claims a key it was not signed
// with (a bad signature).
func (k *Key) SignAs(kid string, claims map[string]any) string {
	c := *k
	c.KID = kid
	return c.Sign(claims)
}

// Unsigned returns a token with alg "none" and no signature, naming kid.
func Unsigned(kid string, claims map[string]any) string {
	return encode(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, claims) + "."
}

// HMACWithPublicKey returns a token "signed" with HS256 using the PEM of k's public key as
// the secret: the key-confusion attack on verifiers that let the token pick the algorithm.
func (k *Key) HMACWithPublicKey(claims map[string]any) string {
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		panic(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	text := encode(map[string]any{"alg": "HS256", "typ": "JWT", "kid": k.KID}, claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(text))
	return text + "." + b64.EncodeToString(mac.Sum(nil))
}

func encode(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return b64.EncodeToString(h) + "." + b64.EncodeToString(c)
}

// Server publishes a JWKS at /jwks.json and counts the fetches.
type Server struct {
	*httptest.Server
	mu      sync.Mutex // guards keys and fail
	keys    []*Key
	fail    bool
	fetches atomic.Int32
}

// NewServer starts a JWKS server publishing keys, over TLS (httptest's certificate, for
// 127.0.0.1) when tls is set. Close it when done.
func NewServer(tls bool, keys ...*Key) *Server {
	s := &Server{keys: keys}
	h := http.HandlerFunc(s.serve)
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	return s
}

// JWKSURL is the set's address.
func (s *Server) JWKSURL() string { return s.URL + "/jwks.json" }

// CertPEM is the TLS server's certificate, for the client's trust store.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// SetKeys replaces the published keys, as an identity provider's rotation does.
func (s *Server) SetKeys(keys ...*Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// SetFailing makes the server answer 503 (an identity provider that is down), or not.
func (s *Server) SetFailing(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// Fetches is how many times the set was requested.
func (s *Server) Fetches() int { return int(s.fetches.Load()) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/jwks.json") {
		http.NotFound(w, r)
		return
	}
	s.fetches.Add(1)
	s.mu.Lock()
	fail := s.fail
	set := struct {
		Keys []map[string]string `json:"keys"`
	}{Keys: []map[string]string{}}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	s.mu.Unlock()
	if fail {
		http.Error(w, "identity provider down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}
