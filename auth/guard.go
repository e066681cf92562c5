package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// GuardConfig bounds what failed and repeated authentication may cost.
type GuardConfig struct {
	// BackoffBase is the wait imposed on an address after its first failed attempt; it
	// doubles with each further consecutive failure, up to BackoffMax. A success resets it.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Workers bounds the password verifications (PBKDF2, an LDAP bind) running at once;
	// the rest queue, so that guessers never take every core from sessions already open.
	Workers int
	// CacheTTL keeps a successful verification this long, keyed by a salted hash of the
	// credentials, so that a BI tool opening 50 connections verifies once. 0 turns it off.
	CacheTTL time.Duration
	// CacheSize bounds the cache's entries.
	CacheSize int
	// LogInterval aggregates refusals: at most one log line per interval.
	LogInterval time.Duration
}

// DefaultGuardConfig returns the defaults: 100 ms doubling to 5 s, half the cores verifying,
// a 5-minute cache of 10,000 entries, a refusal summary every 10 s.
func DefaultGuardConfig() GuardConfig {
	return GuardConfig{
		BackoffBase: 100 * time.Millisecond,
		BackoffMax:  5 * time.Second,
		Workers:     max(1, runtime.NumCPU()/2),
		CacheTTL:    5 * time.Minute,
		CacheSize:   10000,
		LogInterval: 10 * time.Second,
	}
}

// ErrThrottled refuses an attempt from an address with too many recent failures. It wraps
// ErrBadCredentials, so frontends answer it as a failed login.
var ErrThrottled = fmt.Errorf("too many failed logins from this address; try again in a few seconds: %w", ErrBadCredentials)

type clientAddrKey struct{}

// WithClientAddr records the client's network address (host:port or host) in ctx, for the
// Guard's per-address backoff. Frontends call it before authenticating.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

func clientHost(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// Guard wraps a Provider with what makes it safe to expose: a per-address backoff after
// failures, applied before the expensive check; a bounded pool for that check; a cache of
// recent successes; and aggregated logging of refusals.
type Guard struct {
	inner Provider
	cfg   GuardConfig
	log   *logrus.Entry
	slots chan struct{}
	salt  [32]byte

	mu       sync.Mutex // guards failures, cache, refused and lastLog
	failures map[string]*failure
	cache    map[[32]byte]cached
	refused  int
	lastLog  time.Time
}

type failure struct {
	count int
	until time.Time // no verification for this address before then
}

type cached struct {
	id      Identity
	expires time.Time
}

var _ Provider = (*Guard)(nil)

// NewGuard wraps p.
func NewGuard(p Provider, cfg GuardConfig, log *logrus.Entry) *Guard {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	g := &Guard{inner: p, cfg: cfg, log: log.WithField("component", "auth"), slots: make(chan struct{}, cfg.Workers),
		failures: map[string]*failure{}, cache: map[[32]byte]cached{}}
	_, _ = rand.Read(g.salt[:])
	return g
}

func (g *Guard) TrustsClients() bool { return g.inner.TrustsClients() }
func (g *Guard) Mode() string        { return g.inner.Mode() }

// Password checks a password through the backoff, the cache and the worker pool.
func (g *Guard) Password(ctx context.Context, user, password string) (Identity, error) {
	if g.inner.TrustsClients() {
		return g.inner.Password(ctx, user, password)
	}
	return g.check(ctx, "password", user+"\x00"+password, func() (Identity, error) { return g.inner.Password(ctx, user, password) })
}

// Token checks a bearer token likewise.
func (g *Guard) Token(ctx context.Context, token, claimedUser string) (Identity, error) {
	if g.inner.TrustsClients() {
		return g.inner.Token(ctx, token, claimedUser)
	}
	return g.check(ctx, "token", token, func() (Identity, error) { return g.inner.Token(ctx, token, claimedUser) })
}

func (g *Guard) check(ctx context.Context, kind, secret string, verify func() (Identity, error)) (Identity, error) {
	return g.gate(ctx, kind, g.key(kind, secret), true, verify)
}

// gate runs verify after the address's backoff, in the worker pool; with cacheable, a
// recent success under key answers without it.
func (g *Guard) gate(ctx context.Context, kind string, key [32]byte, cacheable bool, verify func() (Identity, error)) (Identity, error) {
	host := clientHost(ctx)
	if err := g.wait(ctx, host); err != nil {
		return Identity{}, err
	}
	if !cacheable {
		key = [32]byte{}
	} else if id, ok := g.cached(key); ok {
		g.succeeded(host)
		return id, nil
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return Identity{}, ctx.Err()
	}
	id, err := verify()
	<-g.slots
	if err != nil {
		g.failed(host, kind)
		return Identity{}, err
	}
	g.succeeded(host)
	if cacheable {
		g.remember(key, id)
	}
	return id, nil
}

// GSS wraps k's ticket checks with the same backoff and worker pool as passwords: an
// address with recent failures waits before its ticket is decrypted, and every refused
// ticket counts as a failure. Nothing is cached: a ticket's authenticator is good once
// (the replay cache refuses it again), and each context needs keys of its own.
func (g *Guard) GSS(k *Kerberos) GSSAcceptor { return guardedGSS{g: g, k: k} }

type guardedGSS struct {
	g *Guard
	k *Kerberos
}

func (x guardedGSS) Principal() string { return x.k.Principal() }

func (x guardedGSS) AcceptGSS(ctx context.Context, token []byte) (*GSSContext, error) {
	var gc *GSSContext
	_, err := x.g.gate(ctx, "gssapi", [32]byte{}, false, func() (Identity, error) {
		var err error
		gc, err = x.k.AcceptGSS(ctx, token)
		if err != nil {
			return Identity{}, err
		}
		return gc.Identity, nil
	})
	if err != nil {
		return nil, err
	}
	return gc, nil
}

func (x guardedGSS) AcceptSPNEGO(ctx context.Context, token []byte) (Identity, []byte, error) {
	var out []byte
	id, err := x.g.gate(ctx, "spnego", [32]byte{}, false, func() (Identity, error) {
		id, tok, err := x.k.AcceptSPNEGO(ctx, token)
		out = tok
		return id, err
	})
	if err != nil {
		return Identity{}, nil, err
	}
	return id, out, nil
}

// wait holds an attempt from an address in backoff until its time comes. Concurrent
// attempts from one address queue one behind the other: each takes the next slot.
func (g *Guard) wait(ctx context.Context, host string) error {
	g.mu.Lock()
	f := g.failures[host]
	if f == nil || f.count == 0 {
		g.mu.Unlock()
		return nil
	}
	now := time.Now()
	at := f.until
	if at.Before(now) {
		at = now
	}
	if at.Sub(now) > g.cfg.BackoffMax {
		// Attempts queue one behind the other; past the longest backoff, more of them are
		// refused at once (no hash spent), so that a burst cannot lock the address out for
		// longer than BackoffMax.
		g.mu.Unlock()
		return ErrThrottled
	}
	f.until = at.Add(g.delay(f.count))
	g.mu.Unlock()
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Guard) delay(count int) time.Duration {
	d := g.cfg.BackoffBase
	for i := 1; i < count && d < g.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, g.cfg.BackoffMax)
}

func (g *Guard) failed(host, kind string) {
	g.mu.Lock()
	f := g.failures[host]
	if f == nil {
		if len(g.failures) >= 100000 { // bound memory under a spoofed-address storm
			clear(g.failures)
		}
		f = &failure{}
		g.failures[host] = f
	}
	f.count++
	if next := time.Now().Add(g.delay(f.count)); next.After(f.until) {
		f.until = next
	}
	g.refused++
	var n int
	if time.Since(g.lastLog) >= g.cfg.LogInterval {
		n, g.refused, g.lastLog = g.refused, 0, time.Now()
	}
	count := f.count
	g.mu.Unlock()
	if n > 0 {
		g.log.WithFields(logrus.Fields{"refused": n, "last_address": host, "last_kind": kind, "consecutive_from_address": count}).
			Warn(fmt.Sprintf("authentication refused %d time(s) since the last report", n))
	}
}

func (g *Guard) succeeded(host string) {
	g.mu.Lock()
	delete(g.failures, host)
	g.mu.Unlock()
}

func (g *Guard) key(kind, secret string) [32]byte {
	h := sha256.New()
	h.Write(g.salt[:])
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (g *Guard) cached(key [32]byte) (Identity, bool) {
	if g.cfg.CacheTTL <= 0 {
		return Identity{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.cache[key]
	if !ok || time.Now().After(c.expires) {
		delete(g.cache, key)
		return Identity{}, false
	}
	return c.id, true
}

func (g *Guard) remember(key [32]byte, id Identity) {
	if g.cfg.CacheTTL <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.cache) >= g.cfg.CacheSize {
		now := time.Now()
		for k, c := range g.cache {
			if now.After(c.expires) {
				delete(g.cache, k)
			}
		}
		if len(g.cache) >= g.cfg.CacheSize {
			clear(g.cache)
		}
	}
	expires := time.Now().Add(g.cfg.CacheTTL)
	if !id.Expires.IsZero() && id.Expires.Before(expires) {
		expires = id.Expires // a token is not accepted from the cache after it has expired
	}
	g.cache[key] = cached{id: id, expires: expires}
}
