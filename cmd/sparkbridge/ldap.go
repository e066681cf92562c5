package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth/ldapauth"
)

// ldapOptions are the -ldap-* flags (and the config file's "ldap" object) of -auth LDAP.
type ldapOptions struct {
	cfg          ldapauth.Config
	passwordFile string
	groups       string // comma-separated AllowedGroups
}

// ldapFlags declares the -ldap-* flags on fs.
func ldapFlags(fs *flag.FlagSet) *ldapOptions {
	o := &ldapOptions{cfg: ldapauth.DefaultConfig()}
	c := &o.cfg
	fs.StringVar(&c.URL, "ldap-url", "", "the directory of -auth LDAP: ldap://host[:389] or ldaps://host[:636]")
	fs.BoolVar(&c.StartTLS, "ldap-starttls", false, "upgrade an ldap:// connection with StartTLS")
	fs.StringVar(&c.CAFile, "ldap-ca-file", "", "PEM CAs that sign the directory's certificate, for ldaps:// and StartTLS (default: the system's)")
	fs.StringVar(&c.UserDNPattern, "ldap-user-dn-pattern", "", `bind as this DN, %s being the user name: "uid=%s,ou=people,dc=example,dc=org"`)
	fs.StringVar(&c.BindDN, "ldap-bind-dn", "", "service account that finds users (search-then-bind) and reads their groups")
	fs.StringVar(&o.passwordFile, "ldap-bind-password-file", "", "file holding -ldap-bind-dn's password")
	fs.StringVar(&c.BaseDN, "ldap-base-dn", "", "where users (and groups, by default) are searched")
	fs.StringVar(&c.UserFilter, "ldap-user-filter", "", `filter that finds a user under -ldap-base-dn, %s being the user name: "(&(objectClass=inetOrgPerson)(uid=%s))"; with -ldap-user-dn-pattern the user must match it`)
	fs.StringVar(&c.UserAttribute, "ldap-user-attr", c.UserAttribute, "attribute of the user's entry that spells the user name the bridge uses (sAMAccountName on Active Directory; empty: the name as typed)")
	fs.StringVar(&c.GroupAttribute, "ldap-group-attr", c.GroupAttribute, "attribute of the user's entry that lists its groups (empty: none)")
	fs.StringVar(&c.GroupFilter, "ldap-group-filter", "", `find the user's groups by this search instead, %s being the user's DN and %u the user name: "(&(objectClass=groupOfNames)(member=%s))"`)
	fs.StringVar(&c.GroupBaseDN, "ldap-group-base-dn", "", "where -ldap-group-filter searches (default -ldap-base-dn)")
	fs.StringVar(&c.GroupNameAttribute, "ldap-group-name-attr", c.GroupNameAttribute, "attribute that names a group found by -ldap-group-filter")
	fs.StringVar(&o.groups, "ldap-groups", "", "comma-separated groups a user must be in one of (empty: any user); the first the user is in is its GROUP share-level group")
	fs.IntVar(&c.PoolSize, "ldap-pool-size", c.PoolSize, "directory connections open at once")
	fs.DurationVar(&c.DialTimeout, "ldap-dial-timeout", c.DialTimeout, "how long connecting to the directory (TCP, TLS) may take")
	fs.DurationVar(&c.OperationTimeout, "ldap-timeout", c.OperationTimeout, "how long a bind or search may take")
	fs.DurationVar(&c.CacheTTL, "ldap-cache-ttl", c.CacheTTL, "keep a successful LDAP login this long (as a salted hash of the password): a BI tool opening 50 connections binds once (0: off)")
	return o
}

// ldapFileConfig is the config file's "ldap" object; each key matches an -ldap-* flag.
type ldapFileConfig struct {
	URL                string   `json:"url"`
	StartTLS           *bool    `json:"starttls"`
	CAFile             string   `json:"ca_file"`
	UserDNPattern      string   `json:"user_dn_pattern"`
	BindDN             string   `json:"bind_dn"`
	BindPasswordFile   string   `json:"bind_password_file"`
	BaseDN             string   `json:"base_dn"`
	UserFilter         string   `json:"user_filter"`
	UserAttribute      *string  `json:"user_attr"`
	GroupAttribute     *string  `json:"group_attr"`
	GroupFilter        string   `json:"group_filter"`
	GroupBaseDN        string   `json:"group_base_dn"`
	GroupNameAttribute string   `json:"group_name_attr"`
	Groups             []string `json:"groups"`
	PoolSize           int      `json:"pool_size"`
	DialTimeout        duration `json:"dial_timeout"`
	Timeout            duration `json:"timeout"`
	CacheTTL           duration `json:"cache_ttl"`
}

// apply lays the file's LDAP settings under the flags (the caller re-applies the flags given
// on the command line afterwards).
func (lc ldapFileConfig) apply(o *ldapOptions) {
	c := &o.cfg
	for dst, v := range map[*string]string{&c.URL: lc.URL, &c.CAFile: lc.CAFile, &c.UserDNPattern: lc.UserDNPattern, &c.BindDN: lc.BindDN,
		&o.passwordFile: lc.BindPasswordFile, &c.BaseDN: lc.BaseDN, &c.UserFilter: lc.UserFilter, &c.GroupFilter: lc.GroupFilter,
		&c.GroupBaseDN: lc.GroupBaseDN, &c.GroupNameAttribute: lc.GroupNameAttribute} {
		if v != "" {
			*dst = v
		}
	}
	// An attribute may be set to "" in the file, to turn it off.
	for dst, v := range map[*string]*string{&c.UserAttribute: lc.UserAttribute, &c.GroupAttribute: lc.GroupAttribute} {
		if v != nil {
			*dst = *v
		}
	}
	if lc.StartTLS != nil {
		c.StartTLS = *lc.StartTLS
	}
	if lc.Groups != nil {
		o.groups = strings.Join(lc.Groups, ",")
	}
	if lc.PoolSize != 0 {
		c.PoolSize = lc.PoolSize
	}
	for dst, src := range map[*time.Duration]duration{&c.DialTimeout: lc.DialTimeout, &c.OperationTimeout: lc.Timeout, &c.CacheTTL: lc.CacheTTL} {
		if src.set {
			*dst = src.d
		}
	}
}

// provider builds the LDAP provider: the bind password comes from its file, never argv.
func (o *ldapOptions) provider(log *logrus.Entry) (*ldapauth.Provider, error) {
	cfg := o.cfg
	if cfg.URL == "" {
		return nil, fmt.Errorf("-auth LDAP needs -ldap-url")
	}
	if o.passwordFile != "" {
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("-ldap-bind-password-file: %w", err)
		}
		cfg.BindPassword = strings.TrimRight(string(b), "\r\n")
	}
	for _, g := range strings.Split(o.groups, ",") {
		if g = strings.TrimSpace(g); g != "" {
			cfg.AllowedGroups = append(cfg.AllowedGroups, g)
		}
	}
	p, err := ldapauth.New(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("-auth LDAP: %w", err)
	}
	return p, nil
}
