package engine

import (
	"context"
	"crypto/tls"
	"sync"
)

// Static is a Launcher for a pre-provisioned Spark Connect endpoint: it launches nothing and
// hands out the endpoint's address and token.
type Static struct {
	// Addr is the endpoint's host:port.
	Addr string
	// Token is the bearer token the endpoint expects; empty for none.
	Token string
	// TLS, when set, is used to dial the endpoint.
	TLS *tls.Config
}

var _ Launcher = Static{}

// Launch returns the endpoint; the Manager then probes it like a launched engine.
func (s Static) Launch(context.Context, Spec) (Process, error) {
	return &staticProcess{addr: s.Addr, token: s.Token, tls: s.TLS, done: make(chan struct{})}, nil
}

// staticProcess stands for an endpoint the bridge does not own: stopping it only forgets it.
type staticProcess struct {
	addr, token string
	tls         *tls.Config
	once        sync.Once
	done        chan struct{}
}

func (p *staticProcess) Addr() string           { return p.addr }
func (p *staticProcess) Token() string          { return p.token }
func (p *staticProcess) PID() int               { return 0 }
func (p *staticProcess) TLSConfig() *tls.Config { return p.tls }
func (p *staticProcess) Done() <-chan struct{}  { return p.done }
func (p *staticProcess) Stop(context.Context) error {
	p.once.Do(func() { close(p.done) })
	return nil
}
