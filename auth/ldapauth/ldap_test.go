package ldapauth

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
)

// fakeDir is an in-process directory: users with passwords and memberOf, groupOfNames
// groups, and one user filter it understands. It counts dials and binds and
// records the filters it was sent.
type fakeDir struct {
	users  map[string]fakeUser // by uid
	groups map[string][]string // group cn -> member DNs

	mu      sync.Mutex
	dials   int
	binds   map[string]int // by DN
	filters []string
	down    bool // dials fail
	conns   []*fakeConn
}

type fakeUser struct{ dn, password string }

func newFakeDir() *fakeDir {
	d := &fakeDir{users: map[string]fakeUser{}, groups: map[string][]string{}, binds: map[string]int{}}
	for _, u := range []string{"alice", "bob", "carol", "a*)(uid=*"} {
		d.users[u] = fakeUser{dn: "uid=" + ldap.EscapeDN(u) + ",ou=people,dc=example,dc=org", password: u + "-pw"}
	}
	d.groups["analysts"] = []string{d.users["alice"].dn, d.users["bob"].dn}
	d.groups["bi"] = []string{d.users["bob"].dn}
	d.groups["staff"] = []string{d.users["alice"].dn, d.users["bob"].dn, d.users["carol"].dn}
	return d
}

func (d *fakeDir) dial(context.Context) (conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials++
	if d.down {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	c := &fakeConn{d: d, closedCh: make(chan struct{})}
	d.conns = append(d.conns, c)
	return c, nil
}

func (d *fakeDir) bindsOf(user string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.binds[d.users[user].dn]
}

type fakeConn struct {
	d      *fakeDir
	mu     sync.Mutex
	closed bool
	bound  string
	// hang, when set, makes operations announce themselves on it and wait for Close.
	hang     chan struct{}
	closedCh chan struct{}
}

const serviceDN, servicePW = "cn=svc,dc=example,dc=org", "svc-pw"

func (c *fakeConn) Bind(dn, password string) error {
	if err := c.wait(); err != nil {
		return err
	}
	c.d.mu.Lock()
	c.d.binds[dn]++
	c.d.mu.Unlock()
	ok := dn == serviceDN && password == servicePW
	for _, u := range c.d.users {
		ok = ok || (strings.EqualFold(u.dn, dn) && u.password == password)
	}
	if !ok {
		return ldap.NewError(ldap.LDAPResultInvalidCredentials, errors.New("invalid credentials"))
	}
	c.mu.Lock()
	c.bound = dn
	c.mu.Unlock()
	return nil
}

func (c *fakeConn) wait() error {
	c.mu.Lock()
	hang, closed := c.hang, c.closed
	c.mu.Unlock()
	if !closed && hang != nil {
		hang <- struct{}{}
		<-c.closedCh
		closed = true
	}
	if closed {
		return ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection closed"))
	}
	return nil
}

func (c *fakeConn) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	if err := c.wait(); err != nil {
		return nil, err
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.filters = append(c.d.filters, req.Filter)
	res := &ldap.SearchResult{}
	entry := func(uid string) *ldap.Entry {
		u := c.d.users[uid]
		attrs := map[string][]string{"uid": {uid}}
		for g, members := range c.d.groups {
			for _, m := range members {
				if m == u.dn {
					attrs["memberOf"] = append(attrs["memberOf"], "cn="+g+",ou=groups,dc=example,dc=org")
				}
			}
		}
		return ldap.NewEntry(u.dn, attrs)
	}
	userFilter := func(uid string) string {
		// The one filter this directory understands, whatever the provider was told.
		return "(&(objectClass=inetOrgPerson)(uid=" + ldap.EscapeFilter(uid) + "))"
	}
	switch {
	case req.Scope == ldap.ScopeBaseObject:
		for uid, u := range c.d.users {
			if strings.EqualFold(u.dn, req.BaseDN) && (req.Filter == "(objectClass=*)" || req.Filter == userFilter(uid)) {
				res.Entries = append(res.Entries, entry(uid))
			}
		}
	case strings.Contains(req.Filter, "groupOfNames"):
		for g, members := range c.d.groups {
			for _, m := range members {
				if strings.Contains(req.Filter, "(member="+ldap.EscapeFilter(m)+")") {
					res.Entries = append(res.Entries, ldap.NewEntry("cn="+g+",ou=groups,dc=example,dc=org", map[string][]string{"cn": {g}}))
				}
			}
		}
	default:
		for uid := range c.d.users {
			if req.Filter == userFilter(uid) {
				res.Entries = append(res.Entries, entry(uid))
			}
		}
	}
	return res, nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.closedCh)
	}
	return nil
}

func (c *fakeConn) IsClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func patternConfig() Config {
	cfg := DefaultConfig()
	cfg.URL = "ldap://directory.invalid"
	cfg.UserDNPattern = "uid=%s,ou=people,dc=example,dc=org"
	return cfg
}

func searchConfig() Config {
	cfg := DefaultConfig()
	cfg.URL = "ldap://directory.invalid"
	cfg.BindDN, cfg.BindPassword = serviceDN, servicePW
	cfg.BaseDN = "dc=example,dc=org"
	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid=%s))"
	return cfg
}

func newTestProvider(t *testing.T, cfg Config) (*Provider, *fakeDir) {
	t.Helper()
	if _, err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	d := newFakeDir()
	p := newProvider(cfg, d.dial, quiet())
	t.Cleanup(p.Close)
	return p, d
}

func TestDNPatternBind(t *testing.T) {
	p, d := newTestProvider(t, patternConfig())
	id, err := p.Password(context.Background(), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "alice" || id.Mechanism != "LDAP" || strings.Join(id.Groups, ",") != "analysts,staff" {
		t.Fatalf("identity %+v, want alice, LDAP, groups analysts,staff", id)
	}
	if n := d.bindsOf("alice"); n != 1 {
		t.Fatalf("%d binds as alice, want 1", n)
	}
	if _, err := p.Password(context.Background(), "alice", "wrong"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("wrong password: %v, want ErrBadCredentials", err)
	}
	if _, err := p.Password(context.Background(), "nobody", "x"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("unknown user: %v, want ErrBadCredentials", err)
	}
}

func TestEmptyPasswordRefusedBeforeAnyBind(t *testing.T) {
	for _, cfg := range []Config{patternConfig(), searchConfig()} {
		p, d := newTestProvider(t, cfg)
		for _, c := range [][2]string{{"alice", ""}, {"", "x"}, {"", ""}} {
			if _, err := p.Password(context.Background(), c[0], c[1]); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("user %q password %q: %v, want ErrBadCredentials", c[0], c[1], err)
			}
		}
		if d.dials != 0 || len(d.binds) != 0 {
			t.Fatalf("empty credentials caused %d dials and binds %v", d.dials, d.binds)
		}
	}
}

func TestSearchThenBind(t *testing.T) {
	p, d := newTestProvider(t, searchConfig())
	id, err := p.Password(context.Background(), "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "bob" || strings.Join(id.Groups, ",") != "analysts,bi,staff" {
		t.Fatalf("identity %+v", id)
	}
	// One service bind and one user bind: groups are read before the user's bind.
	if d.binds[serviceDN] != 1 || d.bindsOf("bob") != 1 {
		t.Fatalf("binds %v, want one as the service account and one as bob", d.binds)
	}
	if _, err := p.Password(context.Background(), "bob", "alice-pw"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("bob with alice's password: %v", err)
	}
}

// TestUserFilterEscaping logs in with a name that would widen an unescaped filter to every
// user: the filter sent must carry it escaped, and only its own entry may match.
func TestUserFilterEscaping(t *testing.T) {
	p, d := newTestProvider(t, searchConfig())
	if _, err := p.Password(context.Background(), "a*)(uid=*", "alice-pw"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("injection with alice's password: %v, want ErrBadCredentials", err)
	}
	want := `(&(objectClass=inetOrgPerson)(uid=a\2a\29\28uid=\2a))`
	if len(d.filters) == 0 || d.filters[0] != want {
		t.Fatalf("filters sent %q, want first %q", d.filters, want)
	}
	if n := d.bindsOf("alice"); n != 0 {
		t.Fatalf("the injected name bound as alice %d times", n)
	}
	id, err := p.Password(context.Background(), "a*)(uid=*", "a*)(uid=*-pw")
	if err != nil || id.User != "a*)(uid=*" {
		t.Fatalf("the odd user with its own password: %+v %v", id, err)
	}
}

func TestAllowedGroups(t *testing.T) {
	for name, cfg := range map[string]Config{"memberOf": searchConfig(), "group search": searchConfig()} {
		t.Run(name, func(t *testing.T) {
			if name == "group search" {
				cfg.GroupFilter = "(&(objectClass=groupOfNames)(member=%s))"
			}
			cfg.AllowedGroups = []string{"bi", "analysts"}
			p, _ := newTestProvider(t, cfg)
			id, err := p.Password(context.Background(), "alice", "alice-pw")
			if err != nil || strings.Join(id.Groups, ",") != "analysts,staff" {
				t.Fatalf("alice: %+v %v", id, err)
			}
			// Allowed groups come first, in the configured order: bob's GROUP engine is bi's.
			if id, err := p.Password(context.Background(), "bob", "bob-pw"); err != nil || strings.Join(id.Groups, ",") != "bi,analysts,staff" {
				t.Fatalf("bob: %+v %v", id, err)
			}
			_, err = p.Password(context.Background(), "carol", "carol-pw")
			if !errors.Is(err, auth.ErrBadCredentials) || !strings.Contains(err.Error(), `user "carol" is not a member of an allowed LDAP group (bi, analysts)`) {
				t.Fatalf("carol, in no allowed group: %v", err)
			}
			// Refused before the allowed groups are looked at: a wrong password says nothing
			// about membership.
			if _, err := p.Password(context.Background(), "carol", "wrong"); err != auth.ErrBadCredentials {
				t.Fatalf("carol with a wrong password: %v, want plain ErrBadCredentials", err)
			}
		})
	}
}

func TestUserFilterWithPattern(t *testing.T) {
	cfg := patternConfig()
	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid=%s))"
	p, _ := newTestProvider(t, cfg)
	if _, err := p.Password(context.Background(), "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid=nobody-%s))"
	p, _ = newTestProvider(t, cfg)
	if _, err := p.Password(context.Background(), "alice", "alice-pw"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("alice outside the user filter: %v", err)
	}
}

// TestBindCache checks that repeated logins bind once per TTL, that only a salted hash is
// kept, and that another password is bound again.
func TestBindCache(t *testing.T) {
	p, d := newTestProvider(t, patternConfig())
	now := time.Now()
	p.cache.now = func() time.Time { return now }
	for range 20 {
		if _, err := p.Password(context.Background(), "alice", "alice-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.bindsOf("alice"); n != 1 {
		t.Fatalf("20 logins caused %d binds, want 1", n)
	}
	e := p.cache.entries["alice"]
	if strings.Contains(string(e.sum[:])+string(e.salt[:]), "alice-pw") || e.sum == ([32]byte{}) {
		t.Fatalf("cache entry %+v", e)
	}
	if _, err := p.Password(context.Background(), "alice", "wrong"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a wrong password with a cached right one: %v", err)
	}
	if n := d.bindsOf("alice"); n != 2 {
		t.Fatalf("a wrong password was not bound (%d binds)", n)
	}
	now = now.Add(61 * time.Second)
	if _, err := p.Password(context.Background(), "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if n := d.bindsOf("alice"); n != 3 {
		t.Fatalf("after the TTL: %d binds, want 3", n)
	}

	cfg := patternConfig()
	cfg.CacheTTL = 0
	p, d = newTestProvider(t, cfg)
	for range 3 {
		if _, err := p.Password(context.Background(), "alice", "alice-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.bindsOf("alice"); n != 3 {
		t.Fatalf("with the cache off: %d binds, want 3", n)
	}
}

func TestUnavailableIsNotBadCredentials(t *testing.T) {
	p, d := newTestProvider(t, patternConfig())
	d.down = true
	_, err := p.Password(context.Background(), "alice", "alice-pw")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("directory down: %v, want ErrUnavailable", err)
	}
	// A chain reports the outage rather than a wrong password.
	chain, err := auth.NewChain(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.Password(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("chain: %v, want ErrUnavailable", err)
	}

	// A refused service account is a configuration fault, not the user's.
	cfg := searchConfig()
	cfg.BindPassword = "stale"
	p, _ = newTestProvider(t, cfg)
	if _, err := p.Password(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("service account refused: %v, want ErrUnavailable", err)
	}
}

// TestRealDialUnreachable dials a closed loopback port with the real dialer.
func TestRealDialUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := patternConfig()
	cfg.URL = "ldap://" + addr
	p, err := New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Password(context.Background(), "alice", "pw"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("closed port: %v, want ErrUnavailable naming %s", err, addr)
	}
}

// TestPoolReusesAndReplaces checks that a connection serves the next check, that one the
// directory closed while idle is replaced, and that a cancelled check closes its connection.
func TestPoolReusesAndReplaces(t *testing.T) {
	cfg := patternConfig()
	cfg.CacheTTL = 0
	p, d := newTestProvider(t, cfg)
	for range 3 {
		if _, err := p.Password(context.Background(), "alice", "alice-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if d.dials != 1 {
		t.Fatalf("3 sequential checks dialled %d times, want 1", d.dials)
	}
	d.conns[0].Close() // the directory dropped the idle connection
	if _, err := p.Password(context.Background(), "alice", "alice-pw"); err != nil {
		t.Fatalf("after the idle connection dropped: %v", err)
	}
	if d.dials != 2 {
		t.Fatalf("dials %d, want 2", d.dials)
	}

	hang := make(chan struct{})
	c := d.conns[1]
	c.mu.Lock()
	c.hang = hang
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := p.Password(ctx, "alice", "alice-pw"); done <- err }()
	<-hang // the bind is in flight
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !c.IsClosing() {
		t.Fatalf("cancelled check: %v (connection closed %v)", err, c.IsClosing())
	}
}

func TestConfigCheck(t *testing.T) {
	bad := map[string]func(*Config){
		"no scheme":          func(c *Config) { c.URL = "directory:389" },
		"ldaps and StartTLS": func(c *Config) { c.URL, c.StartTLS = "ldaps://d", true },
		"pattern without %s": func(c *Config) { c.UserDNPattern = "uid=alice,dc=x" },
		"nothing to find":    func(c *Config) { c.UserDNPattern = "" },
		"search no filter":   func(c *Config) { c.UserDNPattern, c.BindDN, c.BindPassword, c.BaseDN = "", "cn=s", "p", "dc=x" },
		"bind without pw":    func(c *Config) { c.BindDN = "cn=s" },
		"groups no source":   func(c *Config) { c.GroupAttribute, c.AllowedGroups = "", []string{"bi"} },
		"zero pool":          func(c *Config) { c.PoolSize = 0 },
	}
	for name, mutate := range bad {
		cfg := patternConfig()
		mutate(&cfg)
		if _, err := New(cfg, quiet()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := patternConfig()
	cfg.CAFile = "/nonexistent/ca.pem"
	cfg.StartTLS = true
	if _, err := New(cfg, quiet()); err == nil || !strings.Contains(err.Error(), "CA file") {
		t.Errorf("missing CA file: %v", err)
	}
}
