package thriftfront

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/translate"
)

// newProcessor is the TCLIService processor for h on connections whose protocol pf makes,
// with FetchResults answered by fetchResults below.
func newProcessor(h *Handler, pf thrift.TProtocolFactory) *hiveserver.TCLIServiceProcessor {
	proc := hiveserver.NewTCLIServiceProcessor(observed{h})
	enc, ok := encodingOf(pf)
	proc.AddToProcessorMap("FetchResults", &fetchResults{h: h, enc: enc, wire: ok})
	return proc
}

// encodingOf recognises the encoding of pf's protocols by their bytes: a row set written by
// the generated code through pf is compared with the same row set written through the Thrift
// library's binary and compact protocols. Any other protocol (JSON, say) has no encoding
// translate writes, and gets ok false.
func encodingOf(pf thrift.TProtocolFactory) (enc translate.Encoding, ok bool) {
	probe := func(pf thrift.TProtocolFactory) []byte {
		buf := thrift.NewTMemoryBuffer()
		rs := hiveserver.TRowSet{StartRowOffset: -300, Rows: []*hiveserver.TRow{},
			Columns: []*hiveserver.TColumn{{BoolVal: &hiveserver.TBoolColumn{Values: []bool{true, false}, Nulls: []byte{2}}}}}
		if err := rs.Write(context.Background(), pf.GetProtocol(buf)); err != nil {
			return nil
		}
		return buf.Bytes()
	}
	got := probe(pf)
	switch {
	case got == nil:
		return 0, false
	case bytes.Equal(got, probe(thrift.NewTBinaryProtocolFactoryConf(nil))):
		return translate.Binary, true
	case bytes.Equal(got, probe(thrift.NewTCompactProtocolFactoryConf(nil))):
		return translate.Compact, true
	}
	return 0, false
}

// pageBuffers recycles the buffers pages are encoded into: a 10,000-row page is about a
// megabyte, and a fetch loop would otherwise allocate one per call.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPage bounds the buffers kept for reuse, so one huge page does not pin its memory.
const maxPooledPage = 16 << 20

// fetchResults processes FetchResults, the one route every fetch takes. A page of rows is
// encoded from Arrow straight into the connection's encoding (translate.AppendRowSet),
// columnar or row-based as the session's protocol version asks, and written into the reply
// as it is, uncopied where the transport allows; the rest of the reply goes through the
// protocol's own methods. Answers that carry no rows (a log page, an error, the empty last
// page) are generated structs. On a protocol translate cannot encode, the page is decoded
// into a TRowSet and written by the generated code.
type fetchResults struct {
	h    *Handler
	enc  translate.Encoding // the encoding of the connection's protocol, when wire
	wire bool
}

// Field ids of the FetchResults reply (TCLIService.thrift). TestFetchReplyMatchesGenerated
// compares the reply with the generated code's, so a wrong id fails it.
const (
	fieldSuccess     = 0 // TCLIServiceFetchResultsResult
	fieldStatus      = 1 // TFetchResultsResp
	fieldHasMoreRows = 2 // TFetchResultsResp
	fieldResults     = 3 // TFetchResultsResp
)

func (p *fetchResults) Process(ctx context.Context, seqID int32, in, out thrift.TProtocol) (ok bool, err thrift.TException) {
	start := time.Now()
	code := "SUCCESS_STATUS"
	defer func() {
		if err != nil {
			code = "EXCEPTION"
		}
		p.h.cfg.Observer.RPC(protocolOf(ctx), "FetchResults", code, time.Since(start))
	}()
	args := hiveserver.TCLIServiceFetchResultsArgs{}
	if err := args.Read(ctx, in); err != nil {
		_ = in.ReadMessageEnd(ctx)
		x := thrift.NewTApplicationException(thrift.PROTOCOL_ERROR, err.Error())
		_ = out.WriteMessageBegin(ctx, "FetchResults", thrift.EXCEPTION, seqID)
		_ = x.Write(ctx, out)
		_ = out.WriteMessageEnd(ctx)
		_ = out.Flush(ctx)
		return false, thrift.WrapTException(err)
	}
	if err := in.ReadMessageEnd(ctx); err != nil {
		return false, thrift.WrapTException(err)
	}
	if !p.wire {
		resp, _ := p.h.FetchResults(ctx, args.Req)
		code = statusName(resp.GetStatus(), nil)
		return true, writeReply(ctx, out, seqID, &hiveserver.TCLIServiceFetchResultsResult{Success: resp})
	}
	bufp := pageBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bufp) <= maxPooledPage {
			pageBuffers.Put(bufp)
		}
	}()
	page, more, resp := p.h.fetch(args.Req, (*bufp)[:0], p.enc)
	*bufp = page[:0]
	if resp != nil {
		code = statusName(resp.GetStatus(), nil)
		return true, writeReply(ctx, out, seqID, &hiveserver.TCLIServiceFetchResultsResult{Success: resp})
	}
	return true, writeWirePage(ctx, out, seqID, more, page)
}

// FetchResults returns the next rows of a finished operation (fetchType 0), or its log (1),
// as a generated struct. The processor calls it only for a protocol translate cannot
// encode: it takes the same route, then decodes the page.
func (h *Handler) FetchResults(ctx context.Context, req *hiveserver.TFetchResultsReq) (*hiveserver.TFetchResultsResp, error) {
	page, more, resp := h.fetch(req, nil, translate.Binary)
	if resp != nil {
		return resp, nil
	}
	var rs hiveserver.TRowSet
	if err := rs.Read(ctx, thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportR(bytes.NewReader(page)), nil)); err != nil {
		return &hiveserver.TFetchResultsResp{Status: errStatus(err)}, nil
	}
	return &hiveserver.TFetchResultsResp{Status: okStatus(), HasMoreRows: &more, Results: &rs}, nil
}

// fetch answers a FetchResults request: with a page of rows appended to dst in enc and
// whether more may follow, or with a response that carries no encoded rows.
func (h *Handler) fetch(req *hiveserver.TFetchResultsReq, dst []byte, enc translate.Encoding) ([]byte, bool, *hiveserver.TFetchResultsResp) {
	op, columnar, resp := h.startFetch(req)
	if resp != nil {
		return dst, false, resp
	}
	page, empty, err := op.fetchWire(dst, int(req.MaxRows), enc, columnar)
	switch {
	case err != nil:
		return page, false, &hiveserver.TFetchResultsResp{Status: errStatus(err)}
	case empty != nil:
		more := false
		return page, false, &hiveserver.TFetchResultsResp{Status: okStatus(), HasMoreRows: &more, Results: empty}
	}
	return page, true, nil
}

// writeWirePage writes a FetchResults reply whose TRowSet is already encoded in out's
// encoding.
func writeWirePage(ctx context.Context, out thrift.TProtocol, seqID int32, more bool, rowSet []byte) thrift.TException {
	err := errors.Join(
		out.WriteMessageBegin(ctx, "FetchResults", thrift.REPLY, seqID),
		out.WriteStructBegin(ctx, "FetchResults_result"),
		out.WriteFieldBegin(ctx, "success", thrift.STRUCT, fieldSuccess),
		out.WriteStructBegin(ctx, "TFetchResultsResp"),
		out.WriteFieldBegin(ctx, "status", thrift.STRUCT, fieldStatus),
		okStatus().Write(ctx, out),
		out.WriteFieldEnd(ctx),
		out.WriteFieldBegin(ctx, "hasMoreRows", thrift.BOOL, fieldHasMoreRows),
		out.WriteBool(ctx, more),
		out.WriteFieldEnd(ctx),
		out.WriteFieldBegin(ctx, "results", thrift.STRUCT, fieldResults),
	)
	// The row set bytes are a whole struct, field ids and stop included, so out is not told
	// of it: WriteStructBegin and WriteStructEnd put nothing on the wire in either encoding,
	// and the compact protocol's field-id state stays that of TFetchResultsResp.
	if err == nil {
		if bt, ok := out.Transport().(interface{ WriteBorrowed([]byte) }); ok {
			bt.WriteBorrowed(rowSet)
		} else {
			_, err = out.Transport().Write(rowSet)
		}
	}
	if err == nil {
		err = errors.Join(
			out.WriteFieldEnd(ctx),
			out.WriteFieldStop(ctx),
			out.WriteStructEnd(ctx),
			out.WriteFieldEnd(ctx),
			out.WriteFieldStop(ctx),
			out.WriteStructEnd(ctx),
			out.WriteMessageEnd(ctx),
			out.Flush(ctx),
		)
	}
	return thrift.WrapTException(err)
}

// writeReply writes a generated reply struct.
func writeReply(ctx context.Context, out thrift.TProtocol, seqID int32, result thrift.TStruct) thrift.TException {
	return thrift.WrapTException(errors.Join(
		out.WriteMessageBegin(ctx, "FetchResults", thrift.REPLY, seqID),
		result.Write(ctx, out),
		out.WriteMessageEnd(ctx),
		out.Flush(ctx),
	))
}
