package thriftfront

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/engine"
)

// noEngines refuses every session: the fuzz target exercises decoding, not execution.
type noEngines struct{}

func (noEngines) Open(context.Context, engine.SessionRequest) (*engine.Session, error) {
	return nil, errors.New("no engines in this test")
}

// FuzzConnection feeds arbitrary bytes to a connection, whichever transport its first byte
// selects. The server must never panic or hang: it answers, or closes the connection.
func FuzzConnection(f *testing.F) {
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0b, 'O', 'p', 'e', 'n', 'S', 'e', 's', 's', 'i', 'o', 'n', 0, 0, 0, 1, 0})
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 'F', 'o', 'o', 0, 0, 0, 1, 0})
	f.Add(append(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslOK, "\x00u\x00p")...), 0, 0, 0, 4, 0x80, 0x01, 0, 1))
	f.Add(append(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslOK, "\x00u\x00p")...), 0xff, 0xff, 0xff, 0xff))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	// From the hardening report: a short SASL frame (once a zero-filled phantom frame parsed
	// as endless messages), a declared 8.4M-entry configuration map, a 256 MiB frame header.
	f.Add(append(append(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslComplete, "\x00m\x00p")...), 0, 0, 0x03, 0xe8), 0x80, 0x01, 0, 1))
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 11, 'O', 'p', 'e', 'n', 'S', 'e', 's', 's', 'i', 'o', 'n', 0, 0, 0, 1,
		0x0c, 0, 1, 0x0d, 0, 4, 0x0b, 0x0b, 0x00, 0x80, 0x2c, 0x40})
	f.Add(append(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslComplete, "\x00m\x00p")...), 0x0f, 0xff, 0xff, 0xff))
	log := logrus.New()
	log.SetOutput(io.Discard)
	lines := &countingHook{}
	log.AddHook(lines)
	cfg := DefaultConfig()
	cfg.MaxFrameSize = 1 << 20
	cfg.HandshakeTimeout = 2 * time.Second
	mem := checkedAllocator(nil)
	cfg.Allocator = mem
	h := NewHandler(cfg, noEngines{}, logrus.NewEntry(log))
	srv := NewServer(cfg, h, logrus.NewEntry(log))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		linesBefore := lines.n.Load()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		defer func() {
			// One connection's worth of input costs a few log lines at most, and memory in
			// proportion to what it sent, never to what it declared.
			if n := lines.n.Load() - linesBefore; n > 5 {
				t.Errorf("%d log lines for one connection", n)
			}
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20+64*uint64(len(in)) {
				t.Errorf("a %d-byte input made the server allocate %d bytes", len(in), grew)
			}
		}()
		serveInputOn(t, srv, ln, in, true)
		mem.AssertSize(t, 0)
	})
}

// FuzzHTTPBody posts arbitrary bodies to the HTTP transport. The handler must never panic
// or hang, must answer every request, and must spend memory in proportion to the body it
// got, however large the sizes the body declares.
func FuzzHTTPBody(f *testing.F) {
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0b, 'O', 'p', 'e', 'n', 'S', 'e', 's', 's', 'i', 'o', 'n', 0, 0, 0, 1, 0})
	// The hardening report's HTTP map bomb: a 35-byte OpenSession whose map claims 8.4M entries.
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 11, 'O', 'p', 'e', 'n', 'S', 'e', 's', 's', 'i', 'o', 'n', 0, 0, 0, 1,
		0x0c, 0, 1, 0x0d, 0, 4, 0x0b, 0x0b, 0x00, 0x80, 0x2c, 0x40})
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, 'N', 'o', 'p', 'e', 0, 0, 0, 1, 0})
	f.Add([]byte{})
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg := DefaultConfig()
	cfg.MaxFrameSize = 1 << 20
	mem := checkedAllocator(nil)
	cfg.Allocator = mem
	h := NewHandler(cfg, noEngines{}, logrus.NewEntry(log))
	x := NewHTTPHandler(h, logrus.NewEntry(log))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/cliservice", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan struct{})
		go func() { x.ServeHTTP(rec, req); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("no answer to a %d-byte body", len(body))
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20+64*uint64(len(body)) {
			t.Fatalf("a %d-byte body made the handler allocate %d bytes", len(body), grew)
		}
		if rec.Code == 0 {
			t.Fatal("no status")
		}
		mem.AssertSize(t, 0)
	})
}
