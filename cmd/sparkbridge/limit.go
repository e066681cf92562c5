package main

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// limitListener bounds a listener's open connections. A connection over the limit is
// accepted, handed to refuse (which tells the client why, if the protocol allows) and
// closed, so that the server behind it never sees it and clients never hang in the kernel's
// backlog.
type limitListener struct {
	net.Listener
	max    int64
	open   atomic.Int64
	refuse func(net.Conn)
	// refused, if set, counts each connection refused (metrics).
	refused func()
	log     *logrus.Entry

	mu         sync.Mutex // guards last and suppressed
	last       time.Time
	suppressed int
}

func newLimitListener(ln net.Listener, max int, refuse func(net.Conn), refused func(), log *logrus.Entry) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, max: int64(max), refuse: refuse, refused: refused, log: log}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &countedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.logRefusal()
		if l.refused != nil {
			l.refused()
		}
		go func() {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if l.refuse != nil {
				l.refuse(c)
			}
			_ = c.Close()
		}()
	}
}

func (l *limitListener) logRefusal() {
	l.mu.Lock()
	if time.Since(l.last) < 10*time.Second {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = time.Now(), 0
	l.mu.Unlock()
	l.log.WithFields(logrus.Fields{"addr": l.Addr().String(), "limit": l.max, "suppressed": n}).Warn("connection refused: the listener is at its connection limit")
}

type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// refuseHTTP answers a connection over the limit with 503, which HTTP clients show.
func refuseHTTP(c net.Conn) {
	const body = "sparkbridge: too many connections; try again later\n"
	_, _ = c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body))
}
