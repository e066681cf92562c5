// Package auth is the authentication that both frontends share: it turns the credentials a
// client presents (a user name and password for HiveServer2 SASL PLAIN, a bearer token for
// Spark Connect) into an Identity, or refuses them.
//
// Every provider returns the same Identity (user, groups, mechanism), which the frontends
// hand to the session layer unchanged. The providers:
//   - None trusts the client: any password is accepted and the user name (or, for Spark
//     Connect, the request's user_id) is the identity. It is for local development.
//   - File reads a users file holding PBKDF2-SHA256 password hashes and SHA-256 token hashes.
//   - Chain tries several in order (KERBEROS,LDAP); the first that accepts decides.
//   - Kerberos (kerberos.go) accepts service tickets with the service's keytab, through
//     gokrb5: the krb5 GSS-API token of SASL GSSAPI and the SPNEGO token of HTTP Negotiate.
//     It checks no passwords, so it is no Provider in the usual sense: it stands in a chain
//     for the mechanisms the frontends then offer (KerberosOf finds it), and the frontends
//     call its AcceptGSS and AcceptSPNEGO through Guard.GSS. NameRules (names.go) turn the
//     client's principal into the user name, as Hadoop's auth_to_local does; ProxyUsers is
//     the impersonation allow-list the HiveServer2 frontend applies to
//     hive.server2.proxy.user and a SASL authorization id, whatever the mechanism.
//   - JWT, in package auth/jwtauth (apart, because it fetches a JWKS), checks OIDC bearer
//     tokens.
//
// Providers that talk to a server live in packages of their own, so that this one stays
// free of network I/O: LDAP is auth/ldapauth. Kerberos (Kerberos, here) checks tickets
// against a keytab and needs no server.
//
// Guard wraps the configured provider with the failed-attempt backoff, before any check, and
// Kerberos's ticket checks likewise (Guard.GSS).
//
// Admission is the other thing both frontends share: the deny lists (users, client
// addresses and CIDR prefixes) and the connection caps (per user, per client address, per
// user and address), counted in one place whatever the protocol. A frontend opens a Ticket
// for the client's address when a connection begins, before any credential is looked at
// (so a denied address never reaches the Guard, let alone an LDAP bind); admits the
// authenticated user on it; and releases it when the connection ends. What a "connection"
// is per transport is the frontend's to say (its doc.go).
//
// auth may import only the standard library, logrus and gokrb5 (with its gofork asn1). It
// does no network I/O: a keytab is read at start, and tickets are checked without the KDC.
package auth
