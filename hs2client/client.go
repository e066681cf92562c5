// Package hs2client is a small HiveServer2 client over the binary transport: SASL PLAIN
// (computed by gosasl) or NOSASL framing, sessions, statements and row fetches. It serves the
// benchmarks and tests, where a client must measure the server and not its own row rendering:
// fetched pages are counted and checked, never turned into Go values row by row.
package hs2client

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/beltran/gosasl"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// SASL negotiation status bytes (Thrift's TSaslTransport).
const (
	saslStart    = 1
	saslOK       = 2
	saslBad      = 3
	saslError    = 4
	saslComplete = 5
)

// Options configures Dial.
type Options struct {
	User, Password string
	// NoSASL uses plain unframed Thrift instead of SASL PLAIN.
	NoSASL bool
	// Conf is the session configuration sent with OpenSession.
	Conf map[string]string
	// Protocol is the client protocol version; zero means V10.
	Protocol hiveserver.TProtocolVersion
}

// Client is one HS2 connection with one open session. It is not safe for concurrent use.
type Client struct {
	conn    net.Conn
	svc     *hiveserver.TCLIServiceClient
	session *hiveserver.TSessionHandle
	// With SASL framing, fetches bypass svc: proto writes the request, sasl reads the reply
	// frame whole (see fetchPage). seq numbers those calls.
	proto *thrift.TBinaryProtocol
	sasl  *saslTransport
	seq   int32
	// Generated makes FetchAll decode pages with the generated code instead of fetchPage.
	Generated bool
}

// Dial connects to addr, authenticates and opens a session.
func Dial(ctx context.Context, addr string, opt Options) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	var tr thrift.TTransport
	var st *saslTransport
	if opt.NoSASL {
		tr = thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(conn, nil), 64<<10)
	} else {
		if st, err = saslPlain(conn, opt.User, opt.Password); err != nil {
			conn.Close()
			return nil, err
		}
		tr = st
	}
	proto := thrift.NewTBinaryProtocolConf(tr, &thrift.TConfiguration{MaxMessageSize: 1 << 30})
	c := &Client{conn: conn, svc: hiveserver.NewTCLIServiceClient(thrift.NewTStandardClient(proto, proto)), proto: proto, sasl: st}
	// The generated client numbers its calls from 1 upward; fetchPage's own calls count
	// down from -1, so the two never collide.
	pv := opt.Protocol
	if pv == 0 {
		pv = hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10
	}
	user, pass := opt.User, opt.Password
	resp, err := c.svc.OpenSession(ctx, &hiveserver.TOpenSessionReq{ClientProtocol: pv, Username: &user, Password: &pass, Configuration: opt.Conf})
	if err == nil {
		err = statusErr(resp.GetStatus())
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("OpenSession: %w", err)
	}
	c.session = resp.GetSessionHandle()
	return c, nil
}

// Close closes the session and the connection.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.svc.CloseSession(ctx, &hiveserver.TCloseSessionReq{SessionHandle: c.session})
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// Execute runs a statement. With async it polls the operation until it has finished (or
// failed); either way it returns once results can be fetched.
func (c *Client) Execute(ctx context.Context, stmt string, async bool) (*hiveserver.TOperationHandle, error) {
	resp, err := c.svc.ExecuteStatement(ctx, &hiveserver.TExecuteStatementReq{SessionHandle: c.session, Statement: stmt, RunAsync: async})
	if err == nil {
		err = statusErr(resp.GetStatus())
	}
	if err != nil {
		return nil, fmt.Errorf("ExecuteStatement: %w", err)
	}
	op := resp.GetOperationHandle()
	if !async {
		return op, nil
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		st, err := c.svc.GetOperationStatus(ctx, &hiveserver.TGetOperationStatusReq{OperationHandle: op})
		if err == nil {
			err = statusErr(st.GetStatus())
		}
		if err != nil {
			return nil, fmt.Errorf("GetOperationStatus: %w", err)
		}
		switch st.GetOperationState() {
		case hiveserver.TOperationState_FINISHED_STATE:
			return op, nil
		case hiveserver.TOperationState_ERROR_STATE, hiveserver.TOperationState_CANCELED_STATE,
			hiveserver.TOperationState_CLOSED_STATE, hiveserver.TOperationState_TIMEDOUT_STATE:
			return nil, fmt.Errorf("operation %s: %s", st.GetOperationState(), st.GetErrorMessage())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Summary is what a fetch loop saw.
type Summary struct {
	Rows    int64
	Fetches int
	// FirstSum is the sum of the first column when it is BIGINT, INT or SMALLINT (else 0): a
	// cheap check that every row arrived and arrived once.
	FirstSum int64
}

// FetchAll fetches every row of op, fetchSize rows per call, until the server returns an
// empty page, then closes the operation.
func (c *Client) FetchAll(ctx context.Context, op *hiveserver.TOperationHandle, fetchSize int) (Summary, error) {
	var s Summary
	defer c.CloseOperation(op)
	for {
		req := &hiveserver.TFetchResultsReq{OperationHandle: op, Orientation: hiveserver.TFetchOrientation_FETCH_NEXT, MaxRows: int64(fetchSize)}
		var n, sum int64
		if c.sasl != nil && !c.Generated {
			var err error
			if n, sum, err = c.fetchPage(ctx, req); err != nil {
				return s, fmt.Errorf("FetchResults: %w", err)
			}
		} else {
			resp, err := c.svc.FetchResults(ctx, req)
			if err == nil {
				err = statusErr(resp.GetStatus())
			}
			if err != nil {
				return s, fmt.Errorf("FetchResults: %w", err)
			}
			n, sum = pageRows(resp.GetResults())
		}
		s.Fetches++
		if n == 0 {
			return s, nil
		}
		s.Rows += n
		s.FirstSum += sum
	}
}

// pageRows counts the rows of a page and sums its first column when that is integral.
func pageRows(rs *hiveserver.TRowSet) (int64, int64) {
	if rs == nil {
		return 0, 0
	}
	if len(rs.Columns) == 0 {
		return int64(len(rs.Rows)), 0
	}
	col := rs.Columns[0]
	var sum int64
	switch {
	case col.I64Val != nil:
		for _, v := range col.I64Val.Values {
			sum += v
		}
		return int64(len(col.I64Val.Values)), sum
	case col.I32Val != nil:
		for _, v := range col.I32Val.Values {
			sum += int64(v)
		}
		return int64(len(col.I32Val.Values)), sum
	case col.StringVal != nil:
		return int64(len(col.StringVal.Values)), 0
	case col.BoolVal != nil:
		return int64(len(col.BoolVal.Values)), 0
	case col.DoubleVal != nil:
		return int64(len(col.DoubleVal.Values)), 0
	case col.ByteVal != nil:
		return int64(len(col.ByteVal.Values)), 0
	case col.I16Val != nil:
		return int64(len(col.I16Val.Values)), 0
	case col.BinaryVal != nil:
		return int64(len(col.BinaryVal.Values)), 0
	}
	return 0, 0
}

// Query runs stmt synchronously, fetches every row and closes the operation.
func (c *Client) Query(ctx context.Context, stmt string, fetchSize int) (Summary, error) {
	op, err := c.Execute(ctx, stmt, false)
	if err != nil {
		return Summary{}, err
	}
	return c.FetchAll(ctx, op, fetchSize)
}

// CloseOperation closes op; errors are ignored, as the session's close would free it anyway.
func (c *Client) CloseOperation(op *hiveserver.TOperationHandle) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = c.svc.CloseOperation(ctx, &hiveserver.TCloseOperationReq{OperationHandle: op})
}

func statusErr(st *hiveserver.TStatus) error {
	if st == nil {
		return errors.New("response carried no status")
	}
	switch st.GetStatusCode() {
	case hiveserver.TStatusCode_SUCCESS_STATUS, hiveserver.TStatusCode_SUCCESS_WITH_INFO_STATUS, hiveserver.TStatusCode_STILL_EXECUTING_STATUS:
		return nil
	}
	return fmt.Errorf("%s: %s (SQLSTATE %s)", st.GetStatusCode(), st.GetErrorMessage(), st.GetSqlState())
}

// saslTransport frames Thrift messages after a SASL PLAIN handshake: each flush sends one
// frame, a 4-byte big-endian length and the payload.
type saslTransport struct {
	conn  net.Conn
	r     *bufio.Reader
	left  int // bytes of the current incoming frame not yet read
	wbuf  []byte
	frame []byte
	rbuf  []byte
}

// SASLPlain negotiates SASL PLAIN on conn and returns the framed transport that follows,
// for callers that drive TCLIService themselves.
func SASLPlain(conn net.Conn, user, pass string) (thrift.TTransport, error) {
	return saslPlain(conn, user, pass)
}

func saslPlain(conn net.Conn, user, pass string) (*saslTransport, error) {
	resp, err := gosasl.NewSaslClient("localhost", gosasl.NewPlainMechanism(user, pass)).Start()
	if err != nil {
		return nil, err
	}
	msg := appendSASL(nil, saslStart, []byte("PLAIN"))
	msg = appendSASL(msg, saslOK, resp)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(conn, 256<<10)
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("SASL handshake: %w", err)
	}
	payload := make([]byte, min(binary.BigEndian.Uint32(hdr[1:]), 64<<10))
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("SASL handshake: %w", err)
	}
	switch hdr[0] {
	case saslComplete:
		return &saslTransport{conn: conn, r: r}, nil
	case saslBad, saslError:
		return nil, fmt.Errorf("SASL PLAIN refused: %s", payload)
	}
	return nil, fmt.Errorf("SASL handshake: unexpected status %d", hdr[0])
}

func appendSASL(b []byte, status byte, payload []byte) []byte {
	b = append(b, status)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func (t *saslTransport) Read(p []byte) (int, error) {
	if t.left == 0 {
		var hdr [4]byte
		if _, err := io.ReadFull(t.r, hdr[:]); err != nil {
			return 0, err
		}
		t.left = int(binary.BigEndian.Uint32(hdr[:]))
		if t.left == 0 {
			return 0, nil
		}
	}
	if len(p) > t.left {
		p = p[:t.left]
	}
	n, err := t.r.Read(p)
	t.left -= n
	return n, err
}

// readFrame returns the whole next incoming frame; it stays valid until the next read.
func (t *saslTransport) readFrame() ([]byte, error) {
	if t.left != 0 {
		return nil, errors.New("a frame is partly read")
	}
	var hdr [4]byte
	if _, err := io.ReadFull(t.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > 1<<30 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	if cap(t.rbuf) < n {
		t.rbuf = make([]byte, n)
	}
	_, err := io.ReadFull(t.r, t.rbuf[:n])
	return t.rbuf[:n], err
}

func (t *saslTransport) Write(p []byte) (int, error) {
	t.wbuf = append(t.wbuf, p...)
	return len(p), nil
}

func (t *saslTransport) Flush(context.Context) error {
	t.frame = binary.BigEndian.AppendUint32(t.frame[:0], uint32(len(t.wbuf)))
	bufs := net.Buffers{t.frame, t.wbuf}
	_, err := bufs.WriteTo(t.conn)
	t.wbuf = t.wbuf[:0]
	return err
}

func (t *saslTransport) Open() error            { return nil }
func (t *saslTransport) IsOpen() bool           { return true }
func (t *saslTransport) Close() error           { return t.conn.Close() }
func (t *saslTransport) RemainingBytes() uint64 { return uint64(t.left) }
