package thriftfront

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/sparkbridge/sparkbridge/auth"
)

// SASL negotiation status bytes, as in Thrift's TSaslTransport.
const (
	saslStart    byte = 1
	saslOK       byte = 2
	saslBad      byte = 3
	saslError    byte = 4
	saslComplete byte = 5
)

// maxSASLNegotiation bounds a negotiation message payload; PLAIN needs a few hundred bytes.
const maxSASLNegotiation = 64 << 10

// plainCredentials are the parts of a SASL PLAIN response (RFC 4616).
type plainCredentials struct {
	AuthzID  string
	User     string
	Password string
}

// parsePlain splits a PLAIN response. Like Hive's PlainSaslServer it accepts the standard
// three-token form "authzid\0user\0password" and the two-token form "user\0password".
func parsePlain(resp []byte) (plainCredentials, error) {
	parts := bytes.Split(resp, []byte{0})
	switch len(parts) {
	case 3:
		c := plainCredentials{AuthzID: string(parts[0]), User: string(parts[1]), Password: string(parts[2])}
		if c.User == "" {
			return c, fmt.Errorf("PLAIN response has no user name")
		}
		return c, nil
	case 2:
		c := plainCredentials{User: string(parts[0]), Password: string(parts[1])}
		if c.User == "" {
			return c, fmt.Errorf("PLAIN response has no user name")
		}
		return c, nil
	default:
		return plainCredentials{}, fmt.Errorf("PLAIN response has %d NUL-separated fields, want 2 or 3", len(parts))
	}
}

// readSASLMessage reads one negotiation message: status byte, 4-byte big-endian length, payload.
func readSASLMessage(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxSASLNegotiation {
		return hdr[0], nil, fmt.Errorf("SASL negotiation message of %d bytes exceeds %d", n, maxSASLNegotiation)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return hdr[0], nil, err
	}
	return hdr[0], payload, nil
}

func writeSASLMessage(w io.Writer, status byte, payload []byte) error {
	buf := make([]byte, 5+len(payload))
	buf[0] = status
	binary.BigEndian.PutUint32(buf[1:], uint32(len(payload)))
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// saslHandshake runs the server side of a SASL PLAIN negotiation on a connection whose first
// byte was START, and returns the client's credentials. check validates them; its error is
// sent to the client as a BAD message.
func saslHandshake(r io.Reader, w io.Writer, check func(plainCredentials) error) (plainCredentials, error) {
	mech, err := readSASLStart(r)
	if err != nil {
		return plainCredentials{}, err
	}
	if mech != "PLAIN" {
		return plainCredentials{}, refuseMechanism(w, mech, false)
	}
	return plainExchange(r, w, check)
}

// readSASLStart reads the START message and returns the mechanism it names.
func readSASLStart(r io.Reader) (string, error) {
	status, mech, err := readSASLMessage(r)
	if err != nil {
		return "", fmt.Errorf("reading SASL START: %w", err)
	}
	if status != saslStart {
		return "", fmt.Errorf("SASL negotiation began with status %d, want START", status)
	}
	return string(mech), nil
}

// refuseMechanism answers a START naming a mechanism the server does not offer.
func refuseMechanism(w io.Writer, mech string, gssapi bool) error {
	offered := "PLAIN"
	if gssapi {
		offered = "PLAIN and GSSAPI"
	}
	msg := fmt.Sprintf("unsupported SASL mechanism %q: this server supports %s", mech, offered)
	if mech == "GSSAPI" && !gssapi {
		msg += " (Kerberos is off: start the bridge with -auth KERBEROS, -kerberos-keytab and -kerberos-principal)"
	}
	_ = writeSASLMessage(w, saslBad, []byte(msg))
	return fmt.Errorf("%s", msg)
}

// plainExchange runs SASL PLAIN after its START message.
func plainExchange(r io.Reader, w io.Writer, check func(plainCredentials) error) (plainCredentials, error) {
	// Java clients send the PLAIN response as COMPLETE, others as OK: both are accepted.
	status, resp, err := readSASLMessage(r)
	if err != nil {
		return plainCredentials{}, fmt.Errorf("reading SASL PLAIN response: %w", err)
	}
	if status != saslOK && status != saslComplete {
		msg := fmt.Sprintf("unexpected SASL status %d in PLAIN response", status)
		_ = writeSASLMessage(w, saslError, []byte(msg))
		return plainCredentials{}, fmt.Errorf("%s", msg)
	}
	creds, err := parsePlain(resp)
	if err == nil {
		err = check(creds)
	}
	if err != nil {
		msg := "authentication failed: " + err.Error()
		if auth.IsDenied(err) || auth.IsOverLimit(err) {
			msg = err.Error() // the credentials were good: the admission's reason, as it is
		}
		_ = writeSASLMessage(w, saslBad, []byte(msg))
		return creds, fmt.Errorf("authentication failed for %q: %w", creds.User, err)
	}
	if err := writeSASLMessage(w, saslComplete, nil); err != nil {
		return creds, err
	}
	return creds, nil
}

// saslTransport is the framed transport that follows a PLAIN negotiation: every message is
// a 4-byte big-endian length and the payload (PLAIN negotiates no integrity or privacy layer).
type saslTransport struct {
	conn     net.Conn
	r        *bufio.Reader
	maxFrame int

	frame []byte // unread rest of the current incoming frame
	rbuf  []byte // backing storage for frame, reused

	// The outgoing frame is segs followed by wbuf[tail:]. Write copies into wbuf;
	// WriteBorrowed adds a caller's buffer as a segment of its own, uncopied.
	wbuf []byte
	segs [][]byte
	tail int
}

var _ thrift.TTransport = (*saslTransport)(nil)

func newSASLTransport(conn net.Conn, r *bufio.Reader, maxFrame int) *saslTransport {
	return &saslTransport{conn: conn, r: r, maxFrame: maxFrame}
}

func (t *saslTransport) Open() error  { return nil }
func (t *saslTransport) IsOpen() bool { return true }
func (t *saslTransport) Close() error { return t.conn.Close() }

func (t *saslTransport) Read(p []byte) (int, error) {
	if len(t.frame) == 0 {
		if err := t.readFrame(); err != nil {
			return 0, err
		}
	}
	n := copy(p, t.frame)
	t.frame = t.frame[n:]
	return n, nil
}

func (t *saslTransport) readFrame() error {
	var hdr [4]byte
	if _, err := io.ReadFull(t.r, hdr[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > t.maxFrame {
		return thrift.NewTTransportException(thrift.UNKNOWN_TRANSPORT_EXCEPTION,
			fmt.Sprintf("frame of %d bytes exceeds the %d-byte limit", n, t.maxFrame))
	}
	// The buffer grows as the frame's bytes arrive, doubling from 64 KiB: a header that
	// declares a huge frame costs nothing until its bytes are really sent. The frame is
	// set only once whole, so a short read leaves no half-filled frame behind.
	t.frame = nil
	buf := t.rbuf[:0]
	for len(buf) < n {
		chunk := max(len(buf), 64<<10)
		chunk = min(chunk, n-len(buf))
		buf = slices.Grow(buf, chunk)
		if _, err := io.ReadFull(t.r, buf[len(buf):len(buf)+chunk]); err != nil {
			return err
		}
		buf = buf[:len(buf)+chunk]
	}
	if cap(buf) <= maxKeptFrameBuffer {
		t.rbuf = buf
	} else {
		t.rbuf = nil // one huge request does not pin its memory for the connection's life
	}
	t.frame = buf
	return nil
}

// maxKeptFrameBuffer bounds the read buffer a connection keeps between frames.
const maxKeptFrameBuffer = 1 << 20

func (t *saslTransport) Write(p []byte) (int, error) {
	t.wbuf = append(t.wbuf, p...)
	return len(p), nil
}

// WriteBorrowed adds p to the outgoing frame without copying it; p must stay unchanged
// until Flush returns. A fetched page goes to the socket this way.
func (t *saslTransport) WriteBorrowed(p []byte) {
	t.segs = append(t.segs, t.wbuf[t.tail:len(t.wbuf):len(t.wbuf)], p)
	t.tail = len(t.wbuf)
}

func (t *saslTransport) Flush(ctx context.Context) error {
	n := len(t.wbuf) - t.tail
	for _, s := range t.segs {
		n += len(s)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(n))
	bufs := append(append(net.Buffers{hdr[:]}, t.segs...), t.wbuf[t.tail:])
	_, err := bufs.WriteTo(t.conn)
	clear(t.segs)
	t.wbuf, t.segs, t.tail = t.wbuf[:0], t.segs[:0], 0
	if cap(t.wbuf) > 4<<20 { // one large reply must not pin its buffer for the connection's life
		t.wbuf = nil
	}
	return err
}

func (t *saslTransport) RemainingBytes() uint64 { return uint64(len(t.frame)) }

// rawTransport is the unframed NOSASL transport: the binary protocol straight on the socket.
type rawTransport struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

var _ thrift.TTransport = (*rawTransport)(nil)

func newRawTransport(conn net.Conn, r *bufio.Reader) *rawTransport {
	return &rawTransport{conn: conn, r: r, w: bufio.NewWriterSize(conn, 64<<10)}
}

func (t *rawTransport) Open() error                 { return nil }
func (t *rawTransport) IsOpen() bool                { return true }
func (t *rawTransport) Close() error                { return t.conn.Close() }
func (t *rawTransport) Read(p []byte) (int, error)  { return t.r.Read(p) }
func (t *rawTransport) Write(p []byte) (int, error) { return t.w.Write(p) }
func (t *rawTransport) Flush(context.Context) error { return t.w.Flush() }
func (t *rawTransport) RemainingBytes() uint64      { return ^uint64(0) }
