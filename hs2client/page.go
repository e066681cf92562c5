package hs2client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// fetchPage sends FetchResults and reads the reply without materialising a Go value per
// cell: it walks the Thrift bytes of the row set, checking every length against the frame,
// counts the rows and sums the first column when it is integral. Everything but the row set
// (the status above all) is decoded by the generated code.
func (c *Client) fetchPage(ctx context.Context, req *hiveserver.TFetchResultsReq) (rows, sum int64, err error) {
	c.seq--
	if err := errors.Join(
		c.proto.WriteMessageBegin(ctx, "FetchResults", thrift.CALL, c.seq),
		(&hiveserver.TCLIServiceFetchResultsArgs{Req: req}).Write(ctx, c.proto),
		c.proto.WriteMessageEnd(ctx),
		c.proto.Flush(ctx),
	); err != nil {
		return 0, 0, err
	}
	frame, err := c.sasl.readFrame()
	if err != nil {
		return 0, 0, err
	}
	r := &reader{b: frame}
	ver := r.u32()
	name := r.bytes()
	seq := int32(r.u32())
	if r.err != nil {
		return 0, 0, r.err
	}
	if ver&0xffff0000 != 0x80010000 || string(name) != "FetchResults" || seq != c.seq {
		return 0, 0, fmt.Errorf("unexpected reply header (version %#x, method %q, seq %d)", ver, name, seq)
	}
	if thrift.TMessageType(ver&0xff) == thrift.EXCEPTION {
		x := thrift.NewTApplicationException(thrift.UNKNOWN_APPLICATION_EXCEPTION, "")
		if err := x.Read(ctx, r.protocol()); err != nil {
			return 0, 0, err
		}
		return 0, 0, x
	}
	// FetchResults_result { 0: TFetchResultsResp success }
	for r.err == nil {
		typ, id := r.field()
		if typ == stop {
			break
		}
		if id != 0 || typ != thrift.STRUCT {
			r.skip(typ, 0)
			continue
		}
		rows, sum, err = r.fetchResultsResp(ctx)
		if err != nil {
			return 0, 0, err
		}
	}
	return rows, sum, r.err
}

const stop = thrift.STOP

// reader walks a byte slice of Thrift binary protocol.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("reply truncated: %d bytes needed at offset %d of %d", n, r.off, len(r.b))
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8() byte {
	if p := r.need(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.need(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.need(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) bytes() []byte { return r.need(int(int32(r.u32()))) }

func (r *reader) field() (thrift.TType, int16) {
	typ := thrift.TType(r.u8())
	if typ == stop || r.err != nil {
		return stop, 0
	}
	return typ, int16(r.u16())
}

func (r *reader) list() (thrift.TType, int) {
	typ := thrift.TType(r.u8())
	n := int(int32(r.u32()))
	if n < 0 && r.err == nil {
		r.err = fmt.Errorf("negative list size %d", n)
	}
	return typ, n
}

// protocol decodes the rest of the frame with the generated code, and the reader moves
// past whatever that consumed.
func (r *reader) protocol() thrift.TProtocol {
	return thrift.NewTBinaryProtocolConf(&consumed{r: r}, nil)
}

// consumed is a transport over the reader's remaining bytes.
type consumed struct{ r *reader }

func (c *consumed) Read(p []byte) (int, error) {
	n := copy(p, c.r.b[c.r.off:])
	c.r.off += n
	if n == 0 && len(p) > 0 {
		return 0, errors.New("reply truncated")
	}
	return n, nil
}
func (c *consumed) Write(p []byte) (int, error)     { return 0, errors.New("read-only") }
func (c *consumed) Close() error                    { return nil }
func (c *consumed) Flush(context.Context) error     { return nil }
func (c *consumed) Open() error                     { return nil }
func (c *consumed) IsOpen() bool                    { return true }
func (c *consumed) RemainingBytes() uint64          { return uint64(len(c.r.b) - c.r.off) }
func (c *consumed) ReadByte() (byte, error)         { b := [1]byte{}; _, err := c.Read(b[:]); return b[0], err }
func (c *consumed) WriteByte(byte) error            { return errors.New("read-only") }
func (c *consumed) WriteString(string) (int, error) { return 0, errors.New("read-only") }

// fetchResultsResp reads TFetchResultsResp { 1: TStatus status, 2: bool hasMoreRows,
// 3: TRowSet results }.
func (r *reader) fetchResultsResp(ctx context.Context) (rows, sum int64, err error) {
	var status *hiveserver.TStatus
	for r.err == nil {
		typ, id := r.field()
		switch {
		case typ == stop:
			if status == nil {
				return 0, 0, errors.New("FetchResults reply has no status")
			}
			return rows, sum, statusErr(status)
		case id == 1 && typ == thrift.STRUCT:
			status = &hiveserver.TStatus{}
			if err := status.Read(ctx, r.protocol()); err != nil {
				return 0, 0, err
			}
		case id == 3 && typ == thrift.STRUCT:
			rows, sum = r.rowSet()
		default:
			r.skip(typ, 0)
		}
	}
	return 0, 0, r.err
}

// rowSet reads TRowSet, counting rows: the TRow list of a row-based set, or the length of
// the first column of a columnar one.
func (r *reader) rowSet() (rows, sum int64) {
	for r.err == nil {
		typ, id := r.field()
		switch {
		case typ == stop:
			return rows, sum
		case id == 2 && typ == thrift.LIST:
			et, n := r.list()
			for i := 0; i < n && r.err == nil; i++ {
				r.skip(et, 0)
			}
			if n > 0 {
				rows = int64(n)
			}
		case id == 3 && typ == thrift.LIST:
			et, n := r.list()
			if et != thrift.STRUCT && n > 0 {
				r.err = fmt.Errorf("columns list of type %d", et)
			}
			for c := 0; c < n && r.err == nil; c++ {
				cr, cs := r.column(c == 0)
				if c == 0 {
					rows, sum = cr, cs
				} else if cr != rows && r.err == nil {
					r.err = fmt.Errorf("column %d has %d rows, column 1 %d", c+1, cr, rows)
				}
			}
		default:
			r.skip(typ, 0)
		}
	}
	return 0, 0
}

// column reads one TColumn union: its typed column's values and nulls.
func (r *reader) column(first bool) (rows, sum int64) {
	for r.err == nil {
		typ, _ := r.field()
		if typ == stop {
			return rows, sum
		}
		if typ != thrift.STRUCT {
			r.skip(typ, 0)
			continue
		}
		for r.err == nil { // TxxColumn { 1: list<T> values, 2: binary nulls }
			ft, fid := r.field()
			if ft == stop {
				break
			}
			if fid != 1 || ft != thrift.LIST {
				r.skip(ft, 0)
				continue
			}
			et, n := r.list()
			rows = int64(n)
			switch et {
			case thrift.BOOL, thrift.BYTE:
				r.need(n)
			case thrift.I16:
				r.need(2 * n)
			case thrift.I32:
				p := r.need(4 * n)
				for i := 0; first && i+4 <= len(p); i += 4 {
					sum += int64(int32(binary.BigEndian.Uint32(p[i:])))
				}
			case thrift.I64:
				p := r.need(8 * n)
				for i := 0; first && i+8 <= len(p); i += 8 {
					sum += int64(binary.BigEndian.Uint64(p[i:]))
				}
			case thrift.DOUBLE:
				r.need(8 * n)
			case thrift.STRING:
				for i := 0; i < n && r.err == nil; i++ {
					r.bytes()
				}
			default:
				r.err = fmt.Errorf("column values of type %d", et)
			}
		}
	}
	return 0, 0
}

// skip passes over one value of type typ.
func (r *reader) skip(typ thrift.TType, depth int) {
	if depth > 64 {
		r.err = errors.New("reply nested too deeply")
		return
	}
	switch typ {
	case thrift.BOOL, thrift.BYTE:
		r.need(1)
	case thrift.I16:
		r.need(2)
	case thrift.I32:
		r.need(4)
	case thrift.I64, thrift.DOUBLE:
		r.need(8)
	case thrift.STRING:
		r.bytes()
	case thrift.STRUCT:
		for r.err == nil {
			ft, _ := r.field()
			if ft == stop {
				return
			}
			r.skip(ft, depth+1)
		}
	case thrift.MAP:
		kt, vt := thrift.TType(r.u8()), thrift.TType(r.u8())
		n := int(int32(r.u32()))
		for i := 0; i < n && r.err == nil; i++ {
			r.skip(kt, depth+1)
			r.skip(vt, depth+1)
		}
	case thrift.LIST, thrift.SET:
		et, n := r.list()
		for i := 0; i < n && r.err == nil; i++ {
			r.skip(et, depth+1)
		}
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown Thrift type %d", typ)
		}
	}
}
