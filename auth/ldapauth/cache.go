package ldapauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/sparkbridge/sparkbridge/auth"
)

// maxCached bounds the bind cache: past it, expired entries go, then all of them.
const maxCached = 10000

// bindCache remembers successful checks for a short time, so that a BI tool opening 50
// connections causes one bind. Per user it keeps a random salt and SHA-256(salt, password):
// never the password.
type bindCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex // guards entries
	entries map[string]cacheEntry
}

type cacheEntry struct {
	salt    [16]byte
	sum     [32]byte
	id      auth.Identity
	expires time.Time
}

func newBindCache(ttl time.Duration) *bindCache {
	return &bindCache{ttl: ttl, now: time.Now, entries: map[string]cacheEntry{}}
}

func saltedSum(salt [16]byte, password string) [32]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write([]byte(password))
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// get returns the identity of user's last successful check, if it is recent and was made
// with this password.
func (c *bindCache) get(user, password string) (auth.Identity, bool) {
	if c.ttl <= 0 {
		return auth.Identity{}, false
	}
	c.mu.Lock()
	e, ok := c.entries[user]
	if ok && c.now().After(e.expires) {
		delete(c.entries, user)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return auth.Identity{}, false
	}
	sum := saltedSum(e.salt, password)
	if subtle.ConstantTimeCompare(sum[:], e.sum[:]) != 1 {
		return auth.Identity{}, false
	}
	return e.id, true
}

// put remembers a successful check.
func (c *bindCache) put(user, password string, id auth.Identity) {
	if c.ttl <= 0 {
		return
	}
	e := cacheEntry{id: id, expires: c.now().Add(c.ttl)}
	_, _ = rand.Read(e.salt[:])
	e.sum = saltedSum(e.salt, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCached {
		now := c.now()
		for k, v := range c.entries {
			if now.After(v.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCached {
			clear(c.entries)
		}
	}
	c.entries[user] = e
}
