package connectfront

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/sirupsen/logrus"
)

// http2Preface opens every HTTP/2 (and so every gRPC) connection.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// prefaceListener checks that each connection starts with the HTTP/2 preface, so that a
// client speaking anything else is logged with a reason before gRPC drops it (gRPC itself
// only notes such connections at debug level).
type prefaceListener struct {
	net.Listener
	log *logrus.Entry
	obs Observer
}

func (l prefaceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &prefaceConn{Conn: c, log: l.log, obs: l.obs}, nil
}

// prefaceConn checks the preface on its first Read, which runs on gRPC's per-connection
// goroutine, never on the accept loop.
type prefaceConn struct {
	net.Conn
	log *logrus.Entry
	obs Observer

	once   sync.Once
	err    error
	replay []byte // the checked preface, handed to gRPC before further reads
}

func (c *prefaceConn) Read(p []byte) (int, error) {
	c.once.Do(c.check)
	if c.err != nil {
		return 0, c.err
	}
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *prefaceConn) check() {
	buf := make([]byte, len(http2Preface))
	n, err := io.ReadFull(c.Conn, buf)
	buf = buf[:n]
	if !bytes.Equal(buf, []byte(http2Preface)[:n]) {
		c.err = fmt.Errorf("not a gRPC client: connection began %q instead of the HTTP/2 preface", buf)
		c.log.WithField("remote", c.RemoteAddr().String()).Warnf("closing connection: %v", c.err)
		c.obs.ConnFailed(protoConnect, "handshake")
		return
	}
	if err != nil {
		c.err = err // closed early: nothing worth logging
		return
	}
	c.replay = buf
}
