package auth

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// slowProvider accepts password "right" for any user, after work, and counts its checks
// and the most that ran at once.
type slowProvider struct {
	work            time.Duration
	calls, running  atomic.Int32
	mu              sync.Mutex
	maxConcurrently int32
}

func (p *slowProvider) Password(_ context.Context, user, password string) (Identity, error) {
	p.calls.Add(1)
	n := p.running.Add(1)
	p.mu.Lock()
	p.maxConcurrently = max(p.maxConcurrently, n)
	p.mu.Unlock()
	time.Sleep(p.work)
	p.running.Add(-1)
	if password != "right" {
		return Identity{}, ErrBadCredentials
	}
	return Identity{User: user}, nil
}
func (p *slowProvider) Token(ctx context.Context, token, _ string) (Identity, error) {
	return p.Password(ctx, "token-user", token)
}
func (p *slowProvider) TrustsClients() bool { return false }
func (p *slowProvider) Mode() string        { return "TEST" }

// testGuard wraps p with the default config but for the backoff.
func testGuard(p Provider, base, maxBackoff time.Duration) *Guard {
	cfg := DefaultGuardConfig()
	cfg.BackoffBase, cfg.BackoffMax = base, maxBackoff
	return NewGuard(p, cfg, quiet())
}

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// Failures from one address slow that address down, exponentially up to the cap; another
// address is served at once meanwhile.
func TestGuardBackoffPerAddress(t *testing.T) {
	p := &slowProvider{}
	g := testGuard(p, 10*time.Millisecond, 40*time.Millisecond)
	attacker := WithClientAddr(context.Background(), "10.9.9.9:5555")
	start := time.Now()
	for i := 0; i < 20; i++ {
		if _, err := g.Password(attacker, "alice", "wrong"); err != ErrBadCredentials {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// 10 + 20 + 40 + 17 × 40 ms at least.
	if took := time.Since(start); took < 700*time.Millisecond {
		t.Fatalf("20 failures took %v; the backoff did not hold them", took)
	}
	victim := WithClientAddr(context.Background(), "10.1.1.1:4444")
	start = time.Now()
	if id, err := g.Password(victim, "bob", "right"); err != nil || id.User != "bob" {
		t.Fatalf("another address: %v, %v", id, err)
	}
	if took := time.Since(start); took > 30*time.Millisecond {
		t.Fatalf("another address waited %v", took)
	}
	// A success resets the attacker's address too.
	if _, err := g.Password(attacker, "alice", "right"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, _ = g.Password(attacker, "alice", "wrong")
	if took := time.Since(start); took > 30*time.Millisecond {
		t.Fatalf("the first failure after a success waited %v", took)
	}
}

// Verifications run at most Workers at once; a repeated success is served from the cache.
func TestGuardPoolAndCache(t *testing.T) {
	p := &slowProvider{work: 20 * time.Millisecond}
	cfg := DefaultGuardConfig()
	cfg.Workers = 2
	g := NewGuard(p, cfg, quiet())
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx := WithClientAddr(context.Background(), "10.0.0."+string(rune('0'+i))+":1")
			_, _ = g.Password(ctx, "u", "wrong")
		}(i)
	}
	wg.Wait()
	if p.maxConcurrently > 2 {
		t.Fatalf("%d verifications ran at once, want at most 2", p.maxConcurrently)
	}
	ctx := WithClientAddr(context.Background(), "10.2.2.2:1")
	before := p.calls.Load()
	for i := 0; i < 50; i++ {
		if _, err := g.Password(ctx, "carol", "right"); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.calls.Load() - before; n != 1 {
		t.Fatalf("50 logins verified %d times, want 1 (cached)", n)
	}
	// The cache is keyed by user and password together: a wrong password is checked.
	if _, err := g.Password(ctx, "carol", "wrong"); err != ErrBadCredentials {
		t.Fatalf("wrong password after a cached success: %v", err)
	}
}

// A waiting attempt gives up when its caller does.
func TestGuardWaitHonoursContext(t *testing.T) {
	p := &slowProvider{}
	g := testGuard(p, time.Hour, time.Hour)
	ctx := WithClientAddr(context.Background(), "10.3.3.3:1")
	_, _ = g.Password(ctx, "u", "wrong")
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.Password(cctx, "u", "right"); err != context.DeadlineExceeded {
		t.Fatalf("err = %v, want the deadline", err)
	}
}

// A burst of attempts from one address cannot lock it out for longer than BackoffMax: the
// attempts past that are refused at once, and a correct login after BackoffMax works.
func TestGuardLockoutIsBounded(t *testing.T) {
	p := &slowProvider{}
	g := testGuard(p, 20*time.Millisecond, 50*time.Millisecond)
	ctx := WithClientAddr(context.Background(), "10.4.4.4:1")
	_, _ = g.Password(ctx, "u", "wrong")
	var wg sync.WaitGroup
	var throttled atomic.Int32
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.Password(ctx, "u", "wrong"); err == ErrThrottled {
				throttled.Add(1)
			}
		}()
	}
	wg.Wait()
	if throttled.Load() == 0 {
		t.Fatal("a burst of 200 attempts was not throttled")
	}
	time.Sleep(g.cfg.BackoffMax + 20*time.Millisecond)
	if _, err := g.Password(ctx, "u", "right"); err != nil {
		t.Fatalf("a correct login after the burst and BackoffMax: %v", err)
	}
}

// expiringProvider accepts every token with an identity that expires at expires.
type expiringProvider struct {
	expires time.Time
	calls   atomic.Int32
}

func (p *expiringProvider) Password(context.Context, string, string) (Identity, error) {
	return Identity{}, ErrBadCredentials
}
func (p *expiringProvider) Token(context.Context, string, string) (Identity, error) {
	p.calls.Add(1)
	return Identity{User: "t", Expires: p.expires}, nil
}
func (p *expiringProvider) TrustsClients() bool { return false }
func (p *expiringProvider) Mode() string        { return "TEST" }

// The cache never serves an identity past its credential's expiry: a token that has expired
// is verified again (and refused by a real provider) however recently it was accepted.
func TestGuardCacheHonoursExpiry(t *testing.T) {
	ctx := WithClientAddr(context.Background(), "10.4.4.4:1")
	for _, c := range []struct {
		name    string
		expires time.Time
		calls   int32
	}{
		{"expired", time.Now().Add(-time.Second), 3},
		{"valid for a day", time.Now().Add(24 * time.Hour), 1},
		{"no expiry", time.Time{}, 1},
	} {
		p := &expiringProvider{expires: c.expires}
		g := NewGuard(p, DefaultGuardConfig(), quiet())
		for i := 0; i < 3; i++ {
			if _, err := g.Token(ctx, "tok", ""); err != nil {
				t.Fatal(err)
			}
		}
		if n := p.calls.Load(); n != c.calls {
			t.Errorf("%s: 3 uses of one token verified %d times, want %d", c.name, n, c.calls)
		}
	}
}
