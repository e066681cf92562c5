package auth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// AdmissionConfig holds the connection caps and deny lists. Zero caps mean no limit.
type AdmissionConfig struct {
	// MaxPerUser bounds one user's connections, over every protocol and address.
	MaxPerUser int
	// MaxPerAddress bounds the connections from one client address (IP).
	MaxPerAddress int
	// MaxPerUserAddress bounds one user's connections from one client address.
	MaxPerUserAddress int
	// DenyUsers are user names (exact, case-sensitive, as the provider returns them) refused
	// right after authentication.
	DenyUsers []string
	// DenyAddresses are client IPs or CIDR prefixes (10.0.0.0/8, 2001:db8::/32) refused
	// before any credential is looked at.
	DenyAddresses []string
	// LogInterval aggregates refusals: at most one log line per interval.
	LogInterval time.Duration
}

// Admission is the one account of who is connected, shared by both frontends as the Guard
// is: the deny lists, and the connections per user, per client address and per user and
// address. A frontend opens a Ticket for a client address when a connection (or, on the
// stateless HS2 HTTP transport, a session) begins, before any credential check; admits the
// authenticated user on it; and releases it when the connection or session ends.
//
// A nil *Admission admits everyone and counts nothing.
type Admission struct {
	cfg       AdmissionConfig
	denyUsers map[string]struct{}
	denyNets  []netip.Prefix
	log       *logrus.Entry

	mu         sync.Mutex // guards the counts, refused and lastLog
	byUser     map[string]int
	byAddr     map[string]int
	byUserAddr map[userAddr]int
	refused    int
	lastLog    time.Time
}

type userAddr struct{ user, addr string }

// NewAdmission checks cfg (every deny-list address must parse) and returns its Admission.
func NewAdmission(cfg AdmissionConfig, log *logrus.Entry) (*Admission, error) {
	if cfg.MaxPerUser < 0 || cfg.MaxPerAddress < 0 || cfg.MaxPerUserAddress < 0 {
		return nil, errors.New("connection limits cannot be negative (0 means no limit)")
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = 10 * time.Second
	}
	a := &Admission{cfg: cfg, denyUsers: map[string]struct{}{}, log: log.WithField("component", "admission"),
		byUser: map[string]int{}, byAddr: map[string]int{}, byUserAddr: map[userAddr]int{}}
	for _, u := range cfg.DenyUsers {
		if u = strings.TrimSpace(u); u != "" {
			a.denyUsers[u] = struct{}{}
		}
	}
	for _, s := range cfg.DenyAddresses {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := parseDenied(s)
		if err != nil {
			return nil, err
		}
		a.denyNets = append(a.denyNets, p)
	}
	return a, nil
}

// parseDenied reads an IP or a CIDR prefix; an IPv4 address written in IPv6 form
// (::ffff:10.0.0.0/104) becomes its IPv4 prefix, as client addresses are compared unmapped.
func parseDenied(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("deny address %q: want an IP or a CIDR prefix such as 10.0.0.0/8", s)
		}
		ip = ip.Unmap().WithZone("")
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("deny address %q: want an IP or a CIDR prefix such as 10.0.0.0/8", s)
	}
	if ip := p.Addr(); ip.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("deny address %q: an IPv4-mapped prefix needs at least 96 bits", s)
		}
		p = netip.PrefixFrom(ip.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Refusal is an Admission's answer to a client it turns away. Its message is meant for the
// client: it names the rule, never another user.
type Refusal struct {
	// Denied is true for a deny list, false for a connection cap.
	Denied bool
	msg    string
}

func (r *Refusal) Error() string { return r.msg }

// IsDenied reports whether err is a deny-list refusal.
func IsDenied(err error) bool {
	var r *Refusal
	return errors.As(err, &r) && r.Denied
}

// IsOverLimit reports whether err is a connection-cap refusal.
func IsOverLimit(err error) bool {
	var r *Refusal
	return errors.As(err, &r) && !r.Denied
}

// AddrKey is the key a client address is counted and matched by: its IP, IPv4 unmapped,
// without port or zone; an address that is no IP is its own key.
func AddrKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	return host
}

// CheckAddress refuses a client address on the deny list. It looks at nothing else, so a
// frontend calls it before any credential check.
func (a *Admission) CheckAddress(addr string) error {
	if a == nil || len(a.denyNets) == 0 {
		return nil
	}
	key := AddrKey(addr)
	if err := a.deniedAddr(key); err != nil {
		a.logRefusal(err, "", key)
		return err
	}
	return nil
}

func (a *Admission) deniedAddr(key string) error {
	ip, err := netip.ParseAddr(key)
	if err != nil {
		return nil
	}
	for _, p := range a.denyNets {
		if p.Contains(ip) {
			return &Refusal{Denied: true, msg: fmt.Sprintf("sparkbridge: connections from %s are not allowed", key)}
		}
	}
	return nil
}

// CheckUser refuses a user on the deny list, for a request whose identity is already
// admitted on a ticket or needs none counted (an HS2 HTTP request carrying a cookie).
func (a *Admission) CheckUser(user, addr string) error {
	if a == nil {
		return nil
	}
	if _, denied := a.denyUsers[user]; denied {
		err := &Refusal{Denied: true, msg: fmt.Sprintf("sparkbridge: user %s is not allowed to connect", user)}
		a.logRefusal(err, user, AddrKey(addr))
		return err
	}
	return nil
}

// Open begins a connection from addr: it refuses a denied address, or one at its
// connection cap, and otherwise counts the connection for the address until the ticket is
// released. It looks at no credential, so a frontend calls it before any.
func (a *Admission) Open(addr string) (*Ticket, error) {
	if a == nil {
		return nil, nil
	}
	key := AddrKey(addr)
	if err := a.deniedAddr(key); err != nil {
		a.logRefusal(err, "", key)
		return nil, err
	}
	a.mu.Lock()
	if n := a.byAddr[key]; a.cfg.MaxPerAddress > 0 && n >= a.cfg.MaxPerAddress {
		a.mu.Unlock()
		err := &Refusal{msg: fmt.Sprintf("sparkbridge: %s already has %s, the most one client address may have; close one and try again", key, conns(n))}
		a.logRefusal(err, "", key)
		return nil, err
	}
	a.byAddr[key]++
	a.mu.Unlock()
	return &Ticket{a: a, addr: key}, nil
}

// Ticket is one admitted connection: its address, counted from Admission.Open, and the users
// authenticated on it, each counted from Admit, until Release. Its methods are safe for
// concurrent use; those of a nil *Ticket do nothing.
type Ticket struct {
	a    *Admission
	addr string

	mu       sync.Mutex // guards users and released
	users    []string   // counted, in admission order; a connection rarely carries more than one
	released bool
}

// Admit admits user, authenticated on this connection: it refuses a denied user, or one at a
// cap (per user, per user and address), and otherwise counts the connection for the user
// until Release. A user already admitted on the ticket is admitted again at no cost.
func (t *Ticket) Admit(user string) error {
	if t == nil {
		return nil
	}
	a := t.a
	if err := a.CheckUser(user, t.addr); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.released {
		return &Refusal{msg: "sparkbridge: the connection has closed"}
	}
	for _, u := range t.users {
		if u == user {
			return nil
		}
	}
	ua := userAddr{user, t.addr}
	a.mu.Lock()
	var err error
	switch n, m := a.byUser[user], a.byUserAddr[ua]; {
	case a.cfg.MaxPerUser > 0 && n >= a.cfg.MaxPerUser:
		err = &Refusal{msg: fmt.Sprintf("sparkbridge: user %s already has %s, the most one user may have; close one and try again", user, conns(n))}
	case a.cfg.MaxPerUserAddress > 0 && m >= a.cfg.MaxPerUserAddress:
		err = &Refusal{msg: fmt.Sprintf("sparkbridge: user %s already has %s from %s, the most one user may have from one address; close one and try again", user, conns(m), t.addr)}
	default:
		a.byUser[user]++
		a.byUserAddr[ua]++
	}
	a.mu.Unlock()
	if err != nil {
		a.logRefusal(err, user, t.addr)
		return err
	}
	t.users = append(t.users, user)
	return nil
}

func conns(n int) string {
	if n == 1 {
		return "1 open connection"
	}
	return fmt.Sprintf("%d open connections", n)
}

// Release gives back what the ticket counted; later calls do nothing.
func (t *Ticket) Release() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.released {
		return
	}
	t.released = true
	a := t.a
	a.mu.Lock()
	ok := decr(a.byAddr, t.addr)
	for _, u := range t.users {
		okUser := decr(a.byUser, u)
		okPair := decr(a.byUserAddr, userAddr{u, t.addr})
		ok = ok && okUser && okPair
	}
	a.mu.Unlock()
	if !ok { // a bug: never a negative count, but say so
		a.log.WithFields(logrus.Fields{"address": t.addr, "users": t.users}).Error("admission: a released connection was not counted")
	}
	t.users = nil
}

// decr takes one from m[k], dropping the entry at zero so that the maps hold only live
// connections; it reports false, and changes nothing, when m[k] holds no connection.
// Caller holds the Admission's mu.
func decr[K comparable](m map[K]int, k K) bool {
	switch n := m[k]; {
	case n > 1:
		m[k] = n - 1
	case n == 1:
		delete(m, k)
	default:
		return false
	}
	return true
}

// Counts reports the connections counted now for user, for addr and for the two together,
// for tests and the operations surface.
func (a *Admission) Counts(user, addr string) (perUser, perAddr, perUserAddr int) {
	if a == nil {
		return 0, 0, 0
	}
	key := AddrKey(addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byUser[user], a.byAddr[key], a.byUserAddr[userAddr{user, key}]
}

// logRefusal reports refusals in aggregate: at most one line per LogInterval, with the
// count since the last and the latest reason.
func (a *Admission) logRefusal(err error, user, addr string) {
	a.mu.Lock()
	a.refused++
	var n int
	if time.Since(a.lastLog) >= a.cfg.LogInterval {
		n, a.refused, a.lastLog = a.refused, 0, time.Now()
	}
	a.mu.Unlock()
	if n > 0 {
		a.log.WithFields(logrus.Fields{"refused": n, "last_address": addr, "last_user": user, "last_reason": err.Error()}).
			Warn(fmt.Sprintf("admission refused %d connection(s) since the last report", n))
	}
}
