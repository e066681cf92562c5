// Package auth is the authentication that both frontends share: it turns the credentials a
// client presents (a user name and password for HiveServer2 SASL PLAIN, a bearer token for
// Spark Connect) into an Identity, or refuses them.
//
// Two providers exist:
//   - None trusts the client: any password is accepted and the user name (or, for Spark
//     Connect, the request's user_id) is the identity. It is for local development.
//   - File reads a users file holding PBKDF2-SHA256 password hashes and SHA-256 token hashes.
//
// auth may import only the standard library and logrus. It does no network I/O.
package auth
