package connectfront

import (
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// frameRows reads an ExecutePlanResponse's Arrow row count, and whether it is the
// ResultComplete, from the raw frame, however the frame is split into buffers; 0 for any
// other response or for garbage.
func TestFrameRows(t *testing.T) {
	data := make([]byte, 100000)
	batch, _ := proto.Marshal(&connect.ExecutePlanResponse{SessionId: "3f1c2e8a-9b7d-4e6f-a5c4-1d2e3f4a5b6c", OperationId: "op",
		ResponseType: &connect.ExecutePlanResponse_ArrowBatch_{ArrowBatch: &connect.ExecutePlanResponse_ArrowBatch{RowCount: 4321, Data: data}}})
	progress, _ := proto.Marshal(&connect.ExecutePlanResponse{SessionId: "s", ResponseType: &connect.ExecutePlanResponse_ExecutionProgress_{
		ExecutionProgress: &connect.ExecutePlanResponse_ExecutionProgress{NumInflightTasks: 3}}})
	complete, _ := proto.Marshal(&connect.ExecutePlanResponse{SessionId: "s", OperationId: "op", ResponseId: "r",
		ResponseType: &connect.ExecutePlanResponse_ResultComplete_{ResultComplete: &connect.ExecutePlanResponse_ResultComplete{}}})
	for name, c := range map[string]struct {
		b        []byte
		want     int64
		complete bool
	}{
		"batch":    {batch, 4321, false},
		"progress": {progress, 0, false},
		"complete": {complete, 0, true},
		"garbage":  {[]byte{0xff, 0xff, 0xff}, 0, false},
		"empty":    {nil, 0, false},
	} {
		for _, split := range []int{1, 3, 17, 1 << 20} {
			var bs mem.BufferSlice
			for off := 0; off < len(c.b); off += split {
				bs = append(bs, mem.SliceBuffer(c.b[off:min(off+split, len(c.b))]))
			}
			if got, done := frameRows(bs); got != c.want || done != c.complete {
				t.Errorf("%s split every %d bytes: %d rows (complete %v), want %d (%v)", name, split, got, done, c.want, c.complete)
			}
		}
	}
}
