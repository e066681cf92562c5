package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/sirupsen/logrus"
)

// errJWKSUnavailable means the keys could not be fetched: the token may be good, the
// identity provider is not answering. It is not a wrong credential (auth.Chain reports it).
var errJWKSUnavailable = errors.New("the JWKS cannot be fetched")

// errRefreshTooSoon refuses an on-demand refresh within MinRefreshInterval of the last one.
var errRefreshTooSoon = errors.New("the JWKS was refreshed moments ago")

// keySet is the cached JWKS and when to fetch it again. The libraries fetch and parse; the
// policy is here because theirs (a rate limiter that callers wait on, inside the Guard's
// bounded worker pool, and a refresh goroutine nobody waits for) does not fit the bridge:
// a caller never waits for a refresh slot, only for a fetch already under way.
type keySet struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	minRefresh time.Duration
	log        *logrus.Entry
	ctx        context.Context // ends with the provider: fetches run under it, not under a caller's

	mu         sync.Mutex // guards keys, fetches, lastDemand, running and lastErr
	keys       keyfunc.Keyfunc
	fetches    int           // successful fetches, for tests and the log
	lastDemand time.Time     // when a token's unknown kid last caused a fetch
	running    chan struct{} // closed when the fetch under way ends; nil when none is
	lastErr    error         // the outcome of the last fetch
}

// current returns the last good key set, or nil before the first.
func (k *keySet) current() keyfunc.Keyfunc {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// refresh fetches the set, or waits for the fetch already under way. onDemand (a token
// with an unknown kid) is refused with errRefreshTooSoon within minRefresh of the previous
// on-demand fetch, so that tokens with made-up kids cannot make the bridge hammer the
// identity provider. The first on-demand fetch is always allowed, and so is every one while
// no set has been fetched yet (the identity provider was down when the bridge started).
func (k *keySet) refresh(ctx context.Context, onDemand bool) error {
	k.mu.Lock()
	if ch := k.running; ch != nil {
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.lastErr
	}
	if onDemand && k.keys != nil && !k.lastDemand.IsZero() && time.Since(k.lastDemand) < k.minRefresh {
		k.mu.Unlock()
		return errRefreshTooSoon
	}
	if onDemand {
		k.lastDemand = time.Now()
	}
	ch := make(chan struct{})
	k.running = ch
	k.mu.Unlock()

	keys, err := k.fetch()

	k.mu.Lock()
	defer k.mu.Unlock()
	if err == nil {
		k.keys = keys
		k.fetches++
	}
	k.lastErr, k.running = err, nil
	close(ch)
	return err
}

// fetch GETs and parses the set, under the provider's context and the timeout (a caller
// that gives up does not cut a fetch others wait for).
func (k *keySet) fetch() (keyfunc.Keyfunc, error) {
	ctx, cancel := context.WithTimeout(k.ctx, k.timeout)
	defer cancel()
	store, err := jwkset.NewStorageFromHTTP(k.url, jwkset.HTTPClientStorageOptions{Client: k.client, Ctx: ctx, HTTPTimeout: k.timeout})
	if err != nil {
		return nil, fmt.Errorf("%w from %s: %w", errJWKSUnavailable, k.url, err)
	}
	all, err := store.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w from %s: %w", errJWKSUnavailable, k.url, err)
	}
	if len(all) == 0 {
		k.log.WithField("jwks_url", k.url).Warn("the JWKS holds no key this bridge can use; every token is refused")
	}
	// Only signature keys: a set may publish encryption keys under their own kids.
	return keyfunc.New(keyfunc.Options{Ctx: k.ctx, Storage: store, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
}

// keyFunc finds the key for a token: by its kid in the cached set, and after a refresh when
// the set lacks it (the identity provider rotated its keys) or there is no set yet.
func (k *keySet) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if kf := k.current(); kf != nil {
			key, err := kf.KeyfuncCtx(ctx)(t)
			if !errors.Is(err, jwkset.ErrKeyNotFound) {
				return key, err
			}
		}
		if err := k.refresh(ctx, true); err != nil {
			if errors.Is(err, errRefreshTooSoon) {
				return nil, fmt.Errorf("the token's key is not in the JWKS: %w", jwkset.ErrKeyNotFound)
			}
			return nil, err
		}
		return k.current().KeyfuncCtx(ctx)(t)
	}
}

// run refreshes the set every interval until ctx ends. A failed refresh keeps the last good
// set and is logged.
func (k *keySet) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.refresh(ctx, false); err != nil && ctx.Err() == nil {
				k.log.WithError(err).Warn("JWKS refresh failed; keeping the keys fetched before")
			}
		}
	}
}
