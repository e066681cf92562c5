package connectfront

import (
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	gproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparkbridge/sparkbridge/engine"
)

// frame is one serialized gRPC message that the bridge forwards without decoding it. Result
// streams (ExecutePlan, ReattachExecute) carry nothing the bridge changes, so their response
// messages, Arrow batches included, go from the engine's connection to the client's as the
// buffers they arrived in: no unmarshal, no copy, no marshal.
type frame struct {
	buf mem.BufferSlice
}

// free releases a frame that was received but not sent.
func (f *frame) free() {
	if f.buf != nil {
		f.buf.Free()
		f.buf = nil
	}
}

// frameCodec is the protobuf codec, except that a *frame passes through as raw bytes. The
// server uses it for every method and engine calls that relay results use it per call; for
// any other message it is exactly the protobuf codec.
type frameCodec struct {
	proto encoding.CodecV2
}

func newFrameCodec() frameCodec { return frameCodec{proto: encoding.GetCodecV2(gproto.Name)} }

// Marshal hands over a frame's buffers; gRPC frees them once written.
func (c frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		b := f.buf
		f.buf = nil
		return b, nil
	}
	return c.proto.Marshal(v)
}

// Unmarshal keeps a reference to the received buffers in a frame; gRPC drops its own.
func (c frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*frame); ok {
		data.Ref()
		f.buf = data
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

// Name is "proto": on the wire this is the protobuf codec.
func (frameCodec) Name() string { return gproto.Name }

// relayFrames copies a result stream from the engine to the client frame by frame, counting
// each frame's Arrow rows and bytes into op. explain turns an engine-side error into the
// client's status. It reports whether the stream carried the ResultComplete that ends the
// execution (a reattachable execution's stream may end before it).
func relayFrames(up grpc.ClientStream, down grpc.ServerStream, explain func(error) error, op *engine.Operation) (bool, error) {
	complete := false
	for {
		var f frame
		if err := up.RecvMsg(&f); err != nil {
			if err == io.EOF {
				return complete, nil
			}
			return complete, explain(err)
		}
		rows, done := frameRows(f.buf)
		complete = complete || done
		if op != nil {
			op.Sent(rows, int64(f.buf.Len()))
		}
		if err := down.SendMsg(&f); err != nil {
			f.free()
			return complete, err
		}
	}
}

// framePrefix is how much of a response frame frameRows reads: Spark writes fields in number
// order, so an arrow_batch (field 2) and its row_count (its field 1) follow the session id.
const framePrefix = 512

// frameRows returns the row count of the Arrow batch an ExecutePlanResponse frame carries,
// or 0, and whether the frame is the ResultComplete that ends an execution, reading only
// the frame's first bytes.
func frameRows(buf mem.BufferSlice) (int64, bool) {
	var prefix [framePrefix]byte
	b := prefix[:0]
	for _, part := range buf {
		d := part.ReadOnlyData()
		b = append(b, d[:min(len(d), framePrefix-len(b))]...)
		if len(b) == framePrefix {
			break
		}
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.BytesType: // arrow_batch
			_, n := protowire.ConsumeVarint(b) // its length; the batch may end past the prefix
			if n < 0 {
				return 0, false
			}
			return batchRows(b[n:]), false
		case num == 14 && typ == protowire.BytesType: // result_complete
			return 0, true
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0, false
		}
		b = b[n:]
	}
	return 0, false
}

// batchRows reads ArrowBatch.row_count (field 1) from the start of an encoded ArrowBatch.
func batchRows(b []byte) int64 {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 1 || typ != protowire.VarintType {
		return 0
	}
	v, n := protowire.ConsumeVarint(b[n:])
	if n < 0 {
		return 0
	}
	return int64(v)
}
