// Package jwtauth authenticates OIDC/JWT bearer tokens: the auth.Provider behind -auth JWT.
//
// A token is accepted when it is signed by a key of the identity provider's JWKS with an
// allowed algorithm (RS256 and ES256 unless configured; none and the HMAC algorithms never),
// names the configured issuer and audience, and is within its exp and nbf give or take the
// leeway. One claim names the user (sub, or preferred_username...), another optionally the
// groups; both become the auth.Identity{User, Groups, Mechanism: "JWT"}, with the token's
// expiry, past which nothing remembers it.
//
// Tokens are parsed and checked by github.com/golang-jwt/jwt/v5; the JWKS is fetched, parsed
// and its keys matched to a token's kid and alg by github.com/MicahParks/jwkset and keyfunc.
// When to fetch is ours (keys.go): at start, every RefreshInterval, and when a token names a
// kid the set lacks (a key rotation), at most once per MinRefreshInterval, concurrent callers
// sharing one fetch. A failed fetch keeps the last good set.
//
//	client --Bearer--> frontend --Token--> auth.Guard (backoff, cache) --> Provider.Token
//	                                                                          |  parse, alg allow-list
//	                                                                          |  keyFunc: kid -> key --(unknown kid)--> keySet.refresh --> JWKS URL
//	                                                                          |  signature, iss, aud, exp, nbf
//	                                                                          v
//	                                                                   auth.Identity
//
// Lifecycle: New fetches the set once (a failure is logged, not fatal: the bridge may chain
// other modes, and the next token retries) and starts the periodic refresher; Close stops it
// and waits for it.
//
// jwtauth may import auth, the two JWT libraries, logrus and the standard library. Its only
// network I/O is the JWKS fetch.
package jwtauth
