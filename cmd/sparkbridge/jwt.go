package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/auth/jwtauth"
)

// jwtOptions are the -jwt-* flags (and the config file's "jwt" object) for -auth JWT.
type jwtOptions struct {
	cfg        jwtauth.Config
	caFile     string
	algorithms string
}

// jwtFlags registers the -jwt-* flags.
func jwtFlags(fs *flag.FlagSet) *jwtOptions {
	o := &jwtOptions{cfg: jwtauth.DefaultConfig()}
	o.algorithms = strings.Join(o.cfg.Algorithms, ",")
	fs.StringVar(&o.cfg.JWKSURL, "jwt-jwks-url", "", "for -auth JWT: the identity provider's JWKS (its OIDC jwks_uri), https:// (http:// only to loopback)")
	fs.StringVar(&o.caFile, "jwt-jwks-ca-file", "", "PEM CA certificates that the JWKS server's certificate must chain to (default: the system's)")
	fs.StringVar(&o.cfg.Issuer, "jwt-issuer", "", "for -auth JWT: the iss every token must carry (required)")
	fs.StringVar(&o.cfg.Audience, "jwt-audience", "", "for -auth JWT: a value every token's aud must hold, this bridge's client id at the identity provider (required)")
	fs.StringVar(&o.algorithms, "jwt-algorithms", o.algorithms, "comma-separated signature algorithms tokens may use (RS*, PS*, ES*, EdDSA; never none or HS*)")
	fs.DurationVar(&o.cfg.Leeway, "jwt-leeway", o.cfg.Leeway, "clock skew allowed on a token's exp and nbf")
	fs.StringVar(&o.cfg.UserClaim, "jwt-user-claim", o.cfg.UserClaim, "the claim that names the user (sub, preferred_username, email...; a.b reaches a nested claim)")
	fs.StringVar(&o.cfg.GroupsClaim, "jwt-groups-claim", "", "the claim that lists the user's groups, for the GROUP share level (groups, realm_access.roles...; empty: none)")
	fs.DurationVar(&o.cfg.RefreshInterval, "jwt-jwks-refresh", o.cfg.RefreshInterval, "fetch the JWKS again this often (removed keys stop being accepted)")
	fs.DurationVar(&o.cfg.MinRefreshInterval, "jwt-jwks-min-refresh", o.cfg.MinRefreshInterval, "a token whose kid the JWKS lacks fetches it again (a key rotation), at most this often")
	return o
}

// jwtFileConfig is the config file's "jwt" object; each key matches a -jwt-* flag.
type jwtFileConfig struct {
	JWKSURL        string   `json:"jwks_url"`
	JWKSCAFile     string   `json:"jwks_ca_file"`
	Issuer         string   `json:"issuer"`
	Audience       string   `json:"audience"`
	Algorithms     []string `json:"algorithms"`
	Leeway         duration `json:"leeway"`
	UserClaim      string   `json:"user_claim"`
	GroupsClaim    string   `json:"groups_claim"`
	JWKSRefresh    duration `json:"jwks_refresh"`
	JWKSMinRefresh duration `json:"jwks_min_refresh"`
}

// apply lays the file's settings under the flags (the caller re-applies the flags given on
// the command line afterwards).
func (jc jwtFileConfig) apply(o *jwtOptions) {
	for dst, v := range map[*string]string{&o.cfg.JWKSURL: jc.JWKSURL, &o.caFile: jc.JWKSCAFile, &o.cfg.Issuer: jc.Issuer,
		&o.cfg.Audience: jc.Audience, &o.cfg.UserClaim: jc.UserClaim, &o.cfg.GroupsClaim: jc.GroupsClaim} {
		if v != "" {
			*dst = v
		}
	}
	if jc.Algorithms != nil {
		o.algorithms = strings.Join(jc.Algorithms, ",")
	}
	if jc.Leeway.set {
		o.cfg.Leeway = jc.Leeway.d
	}
	if jc.JWKSRefresh.set {
		o.cfg.RefreshInterval = jc.JWKSRefresh.d
	}
	if jc.JWKSMinRefresh.set {
		o.cfg.MinRefreshInterval = jc.JWKSMinRefresh.d
	}
}

// given reports whether any JWT setting was made, to catch settings that -auth ignores.
func (o *jwtOptions) given() bool {
	return o != nil && (o.cfg.JWKSURL != "" || o.cfg.Issuer != "" || o.cfg.Audience != "")
}

// provider builds the JWT auth mode.
func (o *jwtOptions) provider(log *logrus.Entry) (auth.Provider, error) {
	if o == nil {
		return nil, errors.New("-auth JWT needs the -jwt-* flags")
	}
	cfg := o.cfg
	cfg.Algorithms = nil
	for _, a := range strings.Split(o.algorithms, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.Algorithms = append(cfg.Algorithms, a)
		}
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("-jwt-jwks-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-jwt-jwks-ca-file %s holds no PEM certificate", o.caFile)
		}
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	return jwtauth.New(cfg, log)
}

// closeAuth stops what the auth providers run in the background (the JWKS refresher) and
// waits for it.
func closeAuth(p auth.Provider) {
	if c, ok := p.(auth.Chain); ok {
		for _, q := range c {
			closeAuth(q)
		}
		return
	}
	if c, ok := p.(io.Closer); ok {
		_ = c.Close()
	}
}
