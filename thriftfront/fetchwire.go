package thriftfront

import (
	"context"
	"errors"
	"sync"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// newProcessor is the TCLIService processor for h, with FetchResults answered by
// fetchResults below.
func newProcessor(h *Handler) *hiveserver.TCLIServiceProcessor {
	proc := hiveserver.NewTCLIServiceProcessor(h)
	proc.AddToProcessorMap("FetchResults", &fetchResults{h: h})
	return proc
}

// pageBuffers recycles the buffers pages are encoded into: a 10,000-row page is about a
// megabyte, and a fetch loop would otherwise allocate one per call.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPage bounds the buffers kept for reuse, so one huge page does not pin its memory.
const maxPooledPage = 16 << 20

// fetchResults processes FetchResults. A columnar page of results is encoded from Arrow
// straight into Thrift bytes (translate.AppendColumnarRowSet) and written into the reply as
// they are; everything else (logs, row-based pages, errors, the empty last page) takes the
// generated route through Handler.FetchResults. On the wire both are the same
// TFetchResultsResp.
type fetchResults struct {
	h *Handler
}

func (p *fetchResults) Process(ctx context.Context, seqID int32, in, out thrift.TProtocol) (bool, thrift.TException) {
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
	req := args.Req

	var resp *hiveserver.TFetchResultsResp
	op, columnar, early := p.h.startFetch(req)
	if _, binary := out.(*thrift.TBinaryProtocol); early == nil && columnar && binary {
		bufp := pageBuffers.Get().(*[]byte)
		defer func() {
			if cap(*bufp) <= maxPooledPage {
				pageBuffers.Put(bufp)
			}
		}()
		page, empty, more, err := op.fetchWire((*bufp)[:0], int(req.MaxRows))
		*bufp = page[:0]
		switch {
		case err != nil:
			resp = &hiveserver.TFetchResultsResp{Status: errStatus(err)}
		case empty != nil:
			resp = &hiveserver.TFetchResultsResp{Status: okStatus(), HasMoreRows: &more, Results: empty}
		default:
			return true, writeWirePage(ctx, out, seqID, more, page)
		}
	} else if early != nil {
		resp = early
	} else {
		resp, _ = p.h.FetchResults(ctx, req)
	}
	result := hiveserver.TCLIServiceFetchResultsResult{Success: resp}
	return true, writeReply(ctx, out, seqID, &result)
}

// writeWirePage writes a FetchResults reply whose TRowSet is already encoded.
func writeWirePage(ctx context.Context, out thrift.TProtocol, seqID int32, more bool, rowSet []byte) thrift.TException {
	err := errors.Join(
		out.WriteMessageBegin(ctx, "FetchResults", thrift.REPLY, seqID),
		out.WriteStructBegin(ctx, "FetchResults_result"),
		out.WriteFieldBegin(ctx, "success", thrift.STRUCT, 0),
		out.WriteStructBegin(ctx, "TFetchResultsResp"),
		out.WriteFieldBegin(ctx, "status", thrift.STRUCT, 1),
		okStatus().Write(ctx, out),
		out.WriteFieldEnd(ctx),
		out.WriteFieldBegin(ctx, "hasMoreRows", thrift.BOOL, 2),
		out.WriteBool(ctx, more),
		out.WriteFieldEnd(ctx),
		out.WriteFieldBegin(ctx, "results", thrift.STRUCT, 3),
	)
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
