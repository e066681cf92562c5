package main

import (
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// Over its limit a listener refuses at once, with the refusal's words; a closed connection
// frees its place.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	var refused atomic.Int32
	ln := newLimitListener(inner, 2, refuseHTTP, func() { refused.Add(1) }, logrus.NewEntry(log))
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := dial(), dial()
	defer a.Close()
	defer b.Close()
	first, second := <-accepted, <-accepted
	over := dial()
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(over)
	if !strings.HasPrefix(string(got), "HTTP/1.1 503") || !strings.Contains(string(got), "too many connections") {
		t.Fatalf("over the limit: %q", got)
	}
	select {
	case c := <-accepted:
		t.Fatalf("a connection over the limit reached the server: %v", c.RemoteAddr())
	default:
	}
	if n := refused.Load(); n != 1 {
		t.Fatalf("%d refusals counted, want 1", n)
	}
	first.Close()
	third := dial()
	defer third.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("a closed connection did not free its place")
	}
	second.Close()
}
