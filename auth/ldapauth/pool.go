package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// conn is what a check needs of a directory connection; *ldap.Conn has it, and package
// tests give a fake.
type conn interface {
	Bind(dn, password string) error
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
	Close() error
	IsClosing() bool
}

var _ conn = (*ldap.Conn)(nil)

// dialer opens a directory connection, ready for a bind (TLS and StartTLS done).
type dialer func(ctx context.Context) (conn, error)

// netDialer dials the endpoint with the config's TLS settings and timeouts.
func netDialer(ep endpoint, tc *tls.Config, startTLS bool, dialTimeout, opTimeout time.Duration) dialer {
	return func(ctx context.Context) (conn, error) {
		ctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", ep.addr)
		if err != nil {
			return nil, err
		}
		if ep.ldaps {
			tconn := tls.Client(raw, tc)
			if err := tconn.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			raw = tconn
		}
		c := ldap.NewConn(raw, ep.ldaps)
		c.Start()
		c.SetTimeout(opTimeout)
		if startTLS {
			// StartTLS has no context: the dial deadline closes the connection instead.
			stop := context.AfterFunc(ctx, func() { c.Close() })
			err := c.StartTLS(tc)
			if !stop() {
				err = ctx.Err()
			}
			if err != nil {
				c.Close()
				return nil, err
			}
		}
		return c, nil
	}
}

// pool keeps up to size directory connections: at most size are in use at once, and the
// idle ones wait for the next check.
type pool struct {
	dial  dialer
	slots chan struct{} // a token per connection in use

	mu   sync.Mutex // guards idle
	idle []conn
}

func newPool(d dialer, size int) *pool {
	return &pool{dial: d, slots: make(chan struct{}, size)}
}

// with runs fn on a connection. A pooled connection that fails at the network level (the
// directory closed it while idle) is replaced by a new one, once. ctx ending closes the
// connection, which ends the operation in flight; the error is then ctx's.
func (p *pool) with(ctx context.Context, fn func(conn) error) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	c, reused, err := p.get(ctx)
	if err != nil {
		return err
	}
	err = run(ctx, c, fn)
	if reused && broken(c, err) && ctx.Err() == nil {
		c.Close()
		if c, err = p.dial(ctx); err != nil {
			return err
		}
		err = run(ctx, c, fn)
	}
	if broken(c, err) || ctx.Err() != nil {
		c.Close()
	} else {
		p.put(c)
	}
	return err
}

func run(ctx context.Context, c conn, fn func(conn) error) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := fn(c)
	if !stop() {
		return ctx.Err()
	}
	return err
}

// broken reports whether c can serve no further operation.
func broken(c conn, err error) bool {
	return c.IsClosing() || ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || errors.Is(err, net.ErrClosed)
}

func (p *pool) get(ctx context.Context) (conn, bool, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosing() {
			p.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	p.mu.Unlock()
	c, err := p.dial(ctx)
	return c, false, err
}

func (p *pool) put(c conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= cap(p.slots) {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

// close closes the idle connections.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.idle {
		c.Close()
	}
	p.idle = nil
}
