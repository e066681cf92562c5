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
//   - JWT, in package auth/jwtauth (apart, because it fetches a JWKS), checks OIDC bearer
//     tokens.
//
// Guard wraps the configured provider with the failed-attempt backoff, before any check.
//
// auth may import only the standard library and logrus. It does no network I/O.
package auth
