package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Chain tries several providers in order, as Kyuubi's authentication=KERBEROS,LDAP does: the
// first that accepts the credentials decides the identity. A provider that refuses them
// (ErrBadCredentials) passes them to the next; any other failure (a directory that cannot be
// reached) is remembered, and reported if no provider accepts them, so that an outage is not
// taken for a wrong password.
type Chain []Provider

var _ Provider = Chain(nil)

// NewChain chains providers. A provider that trusts every client cannot be chained: it
// would accept what the others refuse.
func NewChain(providers ...Provider) (Chain, error) {
	if len(providers) == 0 {
		return nil, errors.New("an auth chain needs a provider")
	}
	for _, p := range providers {
		if p.TrustsClients() {
			return nil, fmt.Errorf("auth mode %s accepts every client and cannot be chained with others", p.Mode())
		}
	}
	return Chain(providers), nil
}

// Password asks each provider in turn.
func (c Chain) Password(ctx context.Context, user, password string) (Identity, error) {
	return c.first(func(p Provider) (Identity, error) { return p.Password(ctx, user, password) })
}

// Token asks each provider in turn.
func (c Chain) Token(ctx context.Context, token, claimedUser string) (Identity, error) {
	return c.first(func(p Provider) (Identity, error) { return p.Token(ctx, token, claimedUser) })
}

func (c Chain) first(check func(Provider) (Identity, error)) (Identity, error) {
	var failure, refusal error
	for _, p := range c {
		id, err := check(p)
		if err == nil {
			return id, nil
		}
		switch {
		case !errors.Is(err, ErrBadCredentials):
			if failure == nil {
				failure = fmt.Errorf("%s: %w", p.Mode(), err)
			}
		case err != ErrBadCredentials && refusal == nil:
			// A refusal that says why (not a member of an allowed group) is what the client
			// is told, rather than the bare "invalid credentials".
			refusal = err
		}
	}
	switch {
	case failure != nil:
		return Identity{}, failure
	case refusal != nil:
		return Identity{}, refusal
	}
	return Identity{}, ErrBadCredentials
}

// TrustsClients is false: no chained provider trusts every client.
func (c Chain) TrustsClients() bool { return false }

// Mode lists the chained modes, "KERBEROS,LDAP".
func (c Chain) Mode() string {
	modes := make([]string, len(c))
	for i, p := range c {
		modes[i] = p.Mode()
	}
	return strings.Join(modes, ",")
}
