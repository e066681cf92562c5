package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
)

// Config is what -auth JWT needs: where the keys are, what a token must say, and which
// claims name the user and the groups.
type Config struct {
	// JWKSURL is the identity provider's JSON Web Key Set (an OIDC provider's jwks_uri). It
	// must be https, except to a loopback host.
	JWKSURL string
	// Issuer must equal a token's iss.
	Issuer string
	// Audience must be among a token's aud: without it a token the same identity provider
	// minted for another application would be accepted.
	Audience string
	// Algorithms a token may be signed with. Only asymmetric ones: a JWKS publishes public
	// keys, and an HMAC "signed" with a public key, or alg none, proves nothing.
	Algorithms []string
	// Leeway is the clock skew allowed on exp and nbf.
	Leeway time.Duration
	// UserClaim names the claim that holds the user name; a dotted name reaches into nested
	// objects (realm_access.name).
	UserClaim string
	// GroupsClaim names the claim that holds the groups (an array of strings, or one string
	// of comma- or space-separated names); empty for none. Dotted names as for UserClaim.
	GroupsClaim string
	// RefreshInterval is how often the JWKS is fetched again, so that removed keys stop
	// being accepted.
	RefreshInterval time.Duration
	// MinRefreshInterval bounds the fetches that tokens with an unknown kid cause (a key
	// rotation): at most one per interval.
	MinRefreshInterval time.Duration
	// FetchTimeout bounds one JWKS fetch.
	FetchTimeout time.Duration
	// HTTPClient fetches the JWKS (with the CA the identity provider's certificate needs);
	// nil for http.DefaultClient's transport.
	HTTPClient *http.Client
}

// DefaultConfig returns the defaults: RS256 and ES256, 60 s of leeway, the user in sub, no
// groups, the keys fetched every 15 minutes and on an unknown kid at most once a minute,
// each fetch within 10 s.
func DefaultConfig() Config {
	return Config{
		Algorithms:         []string{"RS256", "ES256"},
		Leeway:             60 * time.Second,
		UserClaim:          "sub",
		RefreshInterval:    15 * time.Minute,
		MinRefreshInterval: time.Minute,
		FetchTimeout:       10 * time.Second,
	}
}

// asymmetric are the algorithms a JWKS key can verify.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Provider checks JWT bearer tokens against a JWKS. It refuses passwords.
type Provider struct {
	cfg    Config
	parser *jwt.Parser
	keys   *keySet
	log    *logrus.Entry
	stop   context.CancelFunc
	wg     sync.WaitGroup // the periodic refresher
}

var _ auth.Provider = (*Provider)(nil)

// New checks cfg, fetches the JWKS once and starts refreshing it. A failed first fetch is
// logged, not returned: the next token tries again.
func New(cfg Config, log *logrus.Entry) (*Provider, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	log = log.WithField("component", "auth-jwt")
	ctx, stop := context.WithCancel(context.Background())
	p := &Provider{cfg: cfg, log: log, stop: stop,
		keys: &keySet{url: cfg.JWKSURL, client: client, timeout: cfg.FetchTimeout, minRefresh: cfg.MinRefreshInterval, log: log, ctx: ctx},
		parser: jwt.NewParser(jwt.WithValidMethods(cfg.Algorithms), jwt.WithLeeway(cfg.Leeway), jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience), jwt.WithExpirationRequired(), jwt.WithStrictDecoding())}
	if err := p.keys.refresh(ctx, false); err != nil {
		log.WithError(err).Error("cannot fetch the JWKS; tokens are refused until it can be fetched")
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.keys.run(ctx, cfg.RefreshInterval) }()
	return p, nil
}

func (c Config) check() error {
	u, err := url.Parse(c.JWKSURL)
	if c.JWKSURL == "" || err != nil || u.Host == "" {
		return fmt.Errorf("-auth JWT needs -jwt-jwks-url, the identity provider's JWKS (https://...)")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("-jwt-jwks-url %s: the keys that prove every token must come over https (plain http only to a loopback host)", c.JWKSURL)
	}
	if c.Issuer == "" {
		return errors.New("-auth JWT needs -jwt-issuer, the iss of the identity provider's tokens")
	}
	if c.Audience == "" {
		return errors.New("-auth JWT needs -jwt-audience: without it a token minted for any application of the identity provider would be accepted")
	}
	if len(c.Algorithms) == 0 {
		return errors.New("-jwt-algorithms is empty")
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return fmt.Errorf("-jwt-algorithms: %q is not allowed; a JWKS publishes public keys, so only %s are (never none or HMAC)", a, strings.Join(asymmetric, ", "))
		}
	}
	if c.UserClaim == "" {
		return errors.New("-jwt-user-claim is empty")
	}
	if c.Leeway < 0 || c.RefreshInterval <= 0 || c.MinRefreshInterval < 0 || c.FetchTimeout <= 0 {
		return errors.New("-jwt-leeway, -jwt-jwks-refresh, -jwt-jwks-min-refresh and the fetch timeout must be positive")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close stops the periodic refresh and waits for it.
func (p *Provider) Close() error {
	p.stop()
	p.wg.Wait()
	return nil
}

// Password is refused: a JWT provider checks tokens only.
func (p *Provider) Password(context.Context, string, string) (auth.Identity, error) {
	return auth.Identity{}, auth.ErrBadCredentials
}

// Token checks a JWT; claimedUser is ignored, the token names the user. A token that is
// not a valid JWT is ErrBadCredentials (a chained provider may know it); a JWKS that cannot
// be fetched is another error.
func (p *Provider) Token(ctx context.Context, token, _ string) (auth.Identity, error) {
	if strings.Count(token, ".") != 2 {
		return auth.Identity{}, auth.ErrBadCredentials // not a JWT: an opaque token for another mode
	}
	claims := jwt.MapClaims{}
	if _, err := p.parser.ParseWithClaims(token, claims, p.keys.keyFunc(ctx)); err != nil {
		if errors.Is(err, errJWKSUnavailable) {
			return auth.Identity{}, err
		}
		// The client hears only that its credentials were refused; the operator can see why.
		p.log.WithError(err).Debug("JWT refused")
		return auth.Identity{}, auth.ErrBadCredentials
	}
	user, ok := claim(claims, p.cfg.UserClaim).(string)
	if !ok || user == "" {
		p.log.WithField("claim", p.cfg.UserClaim).Debug("JWT refused: the user claim is missing or not a string")
		return auth.Identity{}, auth.ErrBadCredentials
	}
	id := auth.Identity{User: user, Mechanism: "JWT"}
	if p.cfg.GroupsClaim != "" {
		id.Groups = groups(claim(claims, p.cfg.GroupsClaim))
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		id.Expires = exp.Time
	}
	return id, nil
}

func (p *Provider) TrustsClients() bool { return false }
func (p *Provider) Mode() string        { return "JWT" }

// claim returns the claim named name, following dots into nested objects when the name
// itself is not a claim; nil when absent.
func claim(claims jwt.MapClaims, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = map[string]any(claims)
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// groups reads a groups claim: an array of strings (other elements are skipped), or one
// string of names separated by commas or spaces.
func groups(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	case string:
		out = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
	}
	return out
}
