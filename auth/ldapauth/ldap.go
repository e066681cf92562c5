package ldapauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
)

// ErrUnavailable means the directory could not answer a check: it could not be reached, timed
// out, failed TLS, refused the service account or a search. It is not a refusal of the
// user's credentials, so an auth.Chain reports it.
var ErrUnavailable = errors.New("LDAP directory unavailable")

// Provider authenticates user names and passwords against an LDAP directory.
type Provider struct {
	cfg   Config
	url   string
	pool  *pool
	cache *bindCache
	log   *logrus.Entry
}

var _ auth.Provider = (*Provider)(nil)

// New checks cfg and returns a provider. It does not contact the directory: an outage at
// start does not keep the bridge from starting, and is reported by the checks.
func New(cfg Config, log *logrus.Entry) (*Provider, error) {
	ep, err := cfg.check()
	if err != nil {
		return nil, err
	}
	var d dialer
	if ep.ldaps || cfg.StartTLS || cfg.CAFile != "" {
		tc, err := cfg.tlsConfig(ep.host)
		if err != nil {
			return nil, err
		}
		if !ep.ldaps && !cfg.StartTLS {
			return nil, errors.New("an LDAP CA file is for ldaps:// URLs or StartTLS")
		}
		d = netDialer(ep, tc, cfg.StartTLS, cfg.DialTimeout, cfg.OperationTimeout)
	} else {
		d = netDialer(ep, nil, false, cfg.DialTimeout, cfg.OperationTimeout)
	}
	return newProvider(cfg, d, log), nil
}

func newProvider(cfg Config, d dialer, log *logrus.Entry) *Provider {
	return &Provider{cfg: cfg, url: cfg.URL, pool: newPool(d, cfg.PoolSize), cache: newBindCache(cfg.CacheTTL),
		log: log.WithField("component", "ldap")}
}

// Close closes the idle connections.
func (p *Provider) Close() { p.pool.close() }

// TrustsClients is false: every user proves a password.
func (p *Provider) TrustsClients() bool { return false }

// Mode is LDAP.
func (p *Provider) Mode() string { return "LDAP" }

// Token refuses every bearer token: LDAP checks passwords only.
func (p *Provider) Token(context.Context, string, string) (auth.Identity, error) {
	return auth.Identity{}, auth.ErrBadCredentials
}

// Password binds to the directory as user (or answers from the bind cache) and returns the
// user with its groups.
func (p *Provider) Password(ctx context.Context, user, password string) (auth.Identity, error) {
	// An empty password would make a simple bind "unauthenticated", which succeeds.
	if user == "" || password == "" {
		return auth.Identity{}, auth.ErrBadCredentials
	}
	if id, ok := p.cache.get(user, password); ok {
		return id, nil
	}
	var id auth.Identity
	err := p.pool.with(ctx, func(c conn) (err error) {
		id, err = p.check(c, user, password)
		return err
	})
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			return auth.Identity{}, err
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return auth.Identity{}, fmt.Errorf("%w: %s gave no answer in time: %w", ErrUnavailable, p.url, err)
		}
		p.log.WithError(err).WithField("user", user).Warn("LDAP check failed")
		return auth.Identity{}, fmt.Errorf("%w: %s: %w", ErrUnavailable, p.url, err)
	}
	p.cache.put(user, password, id)
	return id, nil
}

// refused is a refusal the client may read: it wraps auth.ErrBadCredentials.
func refused(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, auth.ErrBadCredentials)...)
}

// check runs one check on c.
func (p *Provider) check(c conn, user, password string) (auth.Identity, error) {
	svc := p.cfg.BindDN != ""
	dn := ""
	if p.cfg.UserDNPattern != "" {
		dn = strings.ReplaceAll(p.cfg.UserDNPattern, "%s", ldap.EscapeDN(user))
	}
	var (
		entry  *ldap.Entry
		groups []string
		err    error
	)
	// With a service account, everything is read before the user's bind, so that a check
	// costs two binds; without one, the user reads its own entry after binding.
	if svc {
		if err := c.Bind(p.cfg.BindDN, p.cfg.BindPassword); err != nil {
			return auth.Identity{}, fmt.Errorf("binding as the service account %s: %w", p.cfg.BindDN, err)
		}
		if entry, dn, err = p.entry(c, user, dn); err != nil {
			return auth.Identity{}, err
		}
		if groups, err = p.groups(c, user, dn, entry); err != nil {
			return auth.Identity{}, err
		}
	}
	if err := c.Bind(dn, password); err != nil {
		if ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication, ldap.LDAPResultUnwillingToPerform) {
			return auth.Identity{}, auth.ErrBadCredentials
		}
		return auth.Identity{}, fmt.Errorf("binding as %s: %w", dn, err)
	}
	if !svc {
		if entry, _, err = p.entry(c, user, dn); err != nil {
			return auth.Identity{}, err
		}
		if groups, err = p.groups(c, user, dn, entry); err != nil {
			return auth.Identity{}, err
		}
	}
	groups = p.order(groups)
	if len(p.cfg.AllowedGroups) > 0 && !p.allowed(groups) {
		return auth.Identity{}, refused("user %q is not a member of an allowed LDAP group (%s)", user, strings.Join(p.cfg.AllowedGroups, ", "))
	}
	id := auth.Identity{User: user, Groups: groups, Mechanism: "LDAP"}
	if entry != nil && p.cfg.UserAttribute != "" {
		if v := entry.GetAttributeValue(p.cfg.UserAttribute); v != "" {
			id.User = v
		}
	}
	return id, nil
}

// needsEntry reports whether a check reads the user's entry besides binding.
func (p *Provider) needsEntry() bool {
	return p.cfg.UserDNPattern == "" || p.cfg.UserFilter != "" || p.cfg.UserAttribute != "" ||
		(p.cfg.GroupFilter == "" && p.cfg.GroupAttribute != "")
}

// entry reads the user's entry: by search with the user filter, or at dn (made from the
// pattern), which must then match the user filter if there is one. A user with no entry is
// refused. Without a user filter, an entry that cannot be read (the user may not read its
// own) leaves the entry nil.
func (p *Provider) entry(c conn, user, dn string) (*ldap.Entry, string, error) {
	if !p.needsEntry() {
		return nil, dn, nil
	}
	attrs := []string{"1.1"}
	for _, a := range []string{p.cfg.UserAttribute, p.cfg.GroupAttribute} {
		if a != "" {
			attrs = append(attrs, a)
		}
	}
	filter := "(objectClass=*)"
	if p.cfg.UserFilter != "" {
		filter = strings.ReplaceAll(p.cfg.UserFilter, "%s", ldap.EscapeFilter(user))
	}
	base, scope := dn, ldap.ScopeBaseObject
	if dn == "" {
		base, scope = p.cfg.BaseDN, ldap.ScopeWholeSubtree
	}
	res, err := c.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 2, 0, false, filter, attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, dn, auth.ErrBadCredentials // no such user
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, dn, refused("the LDAP user filter matches several entries for %q", user)
	case err != nil:
		return nil, dn, fmt.Errorf("searching the user's entry: %w", err)
	}
	switch {
	case len(res.Entries) > 1:
		return nil, dn, refused("the LDAP user filter matches several entries for %q", user)
	case len(res.Entries) == 1:
		return res.Entries[0], res.Entries[0].DN, nil
	case p.cfg.UserFilter != "" || dn == "":
		return nil, dn, auth.ErrBadCredentials // no such user, or not one the filter admits
	}
	return nil, dn, nil
}

// groups reads the user's group names: by the group search, or from the entry's attribute.
func (p *Provider) groups(c conn, user, dn string, entry *ldap.Entry) ([]string, error) {
	if p.cfg.GroupFilter == "" {
		if entry == nil || p.cfg.GroupAttribute == "" {
			return nil, nil
		}
		var names []string
		for _, v := range entry.GetAttributeValues(p.cfg.GroupAttribute) {
			names = append(names, groupName(v))
		}
		return names, nil
	}
	r := strings.NewReplacer("%s", ldap.EscapeFilter(dn), "%u", ldap.EscapeFilter(user))
	base := p.cfg.GroupBaseDN
	if base == "" {
		base = p.cfg.BaseDN
	}
	res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		r.Replace(p.cfg.GroupFilter), []string{p.cfg.GroupNameAttribute}, nil))
	if err != nil {
		return nil, fmt.Errorf("searching the user's groups: %w", err)
	}
	var names []string
	for _, e := range res.Entries {
		if v := e.GetAttributeValue(p.cfg.GroupNameAttribute); v != "" {
			names = append(names, v)
		}
	}
	return names, nil
}

// groupName is a group's name from a memberOf value: the first RDN's value of a DN
// (cn=analysts,ou=groups,... -> analysts), or the value itself.
func groupName(v string) string {
	if dn, err := ldap.ParseDN(v); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
		return dn.RDNs[0].Attributes[0].Value
	}
	return v
}

// order sorts groups by name, without duplicates, with the allowed groups first in their
// configured order.
func (p *Provider) order(groups []string) []string {
	if len(groups) == 0 {
		return nil
	}
	rank := func(g string) int {
		for i, a := range p.cfg.AllowedGroups {
			if strings.EqualFold(a, g) {
				return i
			}
		}
		return len(p.cfg.AllowedGroups)
	}
	out := slices.Clone(groups)
	slices.SortFunc(out, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

func (p *Provider) allowed(groups []string) bool {
	for _, g := range groups {
		for _, a := range p.cfg.AllowedGroups {
			if strings.EqualFold(a, g) {
				return true
			}
		}
	}
	return false
}
