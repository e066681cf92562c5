// Package ldapauth is the LDAP auth mode (-auth LDAP): an auth.Provider that checks a user
// name and password by binding to an LDAP directory (OpenLDAP, Active Directory) as the
// user, and reads the user's groups from it.
//
// It is a package of its own, not a file of auth, so that auth stays pure (no network I/O,
// no dependency but logrus) and only the binary that chooses LDAP links the LDAP client.
//
// A check, Provider.Password, goes:
//
//	empty user or password -> refused before any bind (an LDAP bind with an empty password is
//	                          an unauthenticated bind, which servers answer with success)
//	bind cache hit         -> the identity of the last successful bind (Config.CacheTTL)
//	with a service account (Config.BindDN):
//	    bind as the service account; find the user's entry (Config.UserDNPattern, or a
//	    search of Config.BaseDN with Config.UserFilter); read its groups (the entry's
//	    Config.GroupAttribute, or a search with Config.GroupFilter); bind as the user
//	without (Config.UserDNPattern only):
//	    bind as the user; read the entry and groups as the user
//	then: the groups must meet Config.AllowedGroups.
//
// A wrong password, an unknown user, a user outside the user filter or the allowed groups is
// refused with an error that wraps auth.ErrBadCredentials. A directory that cannot answer
// (unreachable, timed out, TLS failure, a refused service account) gives an error that wraps
// ErrUnavailable instead, so that an auth.Chain reports the outage rather than a wrong
// password, and the guard's backoff is not the only thing an operator sees.
//
// Connections are dialled on demand, kept in a small pool of at most Config.PoolSize open
// connections, and closed when an operation on them fails at the network level; every dial
// and operation has a timeout, and a check's context closes its connection when it ends. The
// bind cache keeps, per user name, a salted SHA-256 of the password and never the password.
//
// The caller wraps the provider in auth.Guard, whose per-address backoff runs before any
// check reaches this package.
//
// ldapauth may import auth, go-ldap (github.com/go-ldap/ldap/v3) and logrus.
package ldapauth
