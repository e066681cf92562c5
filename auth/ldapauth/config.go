package ldapauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config says where the directory is and how users and groups are found in it.
type Config struct {
	// URL is the directory: ldap://host[:389] or ldaps://host[:636].
	URL string
	// StartTLS upgrades an ldap:// connection to TLS before anything is sent.
	StartTLS bool
	// CAFile is a PEM bundle of the CAs that sign the directory's certificate (ldaps:// and
	// StartTLS); empty: the system's roots.
	CAFile string

	// UserDNPattern makes the user's DN from the login name: "uid=%s,ou=people,dc=example,dc=org"
	// (%s is the name, DN-escaped). Either it or a service account with UserFilter is needed.
	UserDNPattern string
	// BindDN and BindPassword are the service account that searches the directory.
	BindDN       string
	BindPassword string
	// BaseDN is where users (and, by default, groups) are searched.
	BaseDN string
	// UserFilter finds the user's entry under BaseDN: "(&(objectClass=inetOrgPerson)(uid=%s))"
	// (%s is the login name, filter-escaped). With UserDNPattern it is optional and, when set,
	// the user's entry must match it.
	UserFilter string
	// UserAttribute, when the user's entry has it, gives the user name the bridge uses (the
	// directory's spelling of "uid"); empty or absent: the login name as typed.
	UserAttribute string

	// GroupAttribute is the attribute of the user's entry that lists its groups (memberOf),
	// as DNs (the group is the first RDN's value) or names. Unused when GroupFilter is set.
	GroupAttribute string
	// GroupFilter, when set, finds the user's groups by a search of GroupBaseDN instead:
	// "(&(objectClass=groupOfNames)(member=%s))", where %s is the user's DN and %u the login
	// name, both filter-escaped.
	GroupFilter string
	// GroupBaseDN is where GroupFilter searches; empty: BaseDN.
	GroupBaseDN string
	// GroupNameAttribute names a group found by GroupFilter (cn).
	GroupNameAttribute string
	// AllowedGroups, when not empty, refuses users in none of these groups (compared without
	// case). A user's groups are ordered with these first, in this order, then by name: the
	// first is the user's group for the GROUP share level.
	AllowedGroups []string

	// PoolSize bounds the connections open at once (idle ones are kept for reuse).
	PoolSize int
	// DialTimeout bounds a connection's set-up (TCP, TLS, StartTLS).
	DialTimeout time.Duration
	// OperationTimeout bounds each bind and search.
	OperationTimeout time.Duration
	// CacheTTL keeps a successful check this long: the same user with the same password is
	// not bound again until then. 0 turns the cache off.
	CacheTTL time.Duration
}

// DefaultConfig returns the defaults: memberOf groups named by cn, a pool of 4, 5 s to
// connect, 10 s per operation, a 1-minute bind cache.
func DefaultConfig() Config {
	return Config{
		UserAttribute:      "uid",
		GroupAttribute:     "memberOf",
		GroupNameAttribute: "cn",
		PoolSize:           4,
		DialTimeout:        5 * time.Second,
		OperationTimeout:   10 * time.Second,
		CacheTTL:           time.Minute,
	}
}

// endpoint is the parsed URL: host:port and whether the connection starts with TLS.
type endpoint struct {
	addr, host string
	ldaps      bool
}

func (c Config) check() (endpoint, error) {
	var ep endpoint
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return ep, fmt.Errorf("LDAP URL %q: want ldap://host[:port] or ldaps://host[:port]", c.URL)
	}
	if u.Path != "" && u.Path != "/" {
		return ep, fmt.Errorf("LDAP URL %q: a path is not supported; use the base DN setting", c.URL)
	}
	port := u.Port()
	switch u.Scheme {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		if port == "" {
			port = "636"
		}
		ep.ldaps = true
		if c.StartTLS {
			return ep, errors.New("LDAP StartTLS is for ldap:// URLs; an ldaps:// connection is already TLS")
		}
	default:
		return ep, fmt.Errorf("LDAP URL %q: the scheme must be ldap or ldaps", c.URL)
	}
	ep.host = u.Hostname()
	ep.addr = net.JoinHostPort(ep.host, port)

	switch {
	case c.UserDNPattern != "":
		if !strings.Contains(c.UserDNPattern, "%s") {
			return ep, fmt.Errorf("LDAP user DN pattern %q has no %%s for the user name", c.UserDNPattern)
		}
	case c.BindDN != "":
		if c.BaseDN == "" || c.UserFilter == "" {
			return ep, errors.New("LDAP search-then-bind needs a base DN and a user filter besides the bind DN")
		}
		if !strings.Contains(c.UserFilter, "%s") {
			return ep, fmt.Errorf("LDAP user filter %q has no %%s for the user name", c.UserFilter)
		}
	default:
		return ep, errors.New("LDAP needs a user DN pattern (uid=%s,ou=people,...) or a bind DN with a base DN and user filter")
	}
	if c.BindDN != "" && c.BindPassword == "" {
		return ep, errors.New("the LDAP bind DN needs a bind password (from a file)")
	}
	if c.GroupFilter != "" {
		if c.GroupBaseDN == "" && c.BaseDN == "" {
			return ep, errors.New("the LDAP group filter needs a group base DN or a base DN")
		}
		if c.GroupNameAttribute == "" {
			return ep, errors.New("the LDAP group filter needs a group name attribute (cn)")
		}
	}
	if len(c.AllowedGroups) > 0 && c.GroupFilter == "" && c.GroupAttribute == "" {
		return ep, errors.New("LDAP allowed groups need a group attribute (memberOf) or a group filter to read groups with")
	}
	if c.PoolSize <= 0 || c.DialTimeout <= 0 || c.OperationTimeout <= 0 {
		return ep, errors.New("the LDAP pool size and timeouts must be positive")
	}
	if c.CacheTTL < 0 {
		return ep, errors.New("the LDAP cache TTL cannot be negative")
	}
	return ep, nil
}

// tlsConfig is the client TLS configuration for ldaps:// and StartTLS.
func (c Config) tlsConfig(host string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("LDAP CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("LDAP CA file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
