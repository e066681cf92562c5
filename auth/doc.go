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
//
// Guard wraps the configured provider with the failed-attempt backoff, before any check.
//
// Admission is the other thing both frontends share: the deny lists (users, client
// addresses and CIDR prefixes) and the connection caps (per user, per client address, per
// user and address), counted in one place whatever the protocol. A frontend opens a Ticket
// for the client's address when a connection begins, before any credential is looked at
// (so a denied address never reaches the Guard, let alone an LDAP bind); admits the
// authenticated user on it; and releases it when the connection ends. What a "connection"
// is per transport is the frontend's to say (its doc.go).
//
// auth may import only the standard library and logrus. It does no network I/O.
package auth
