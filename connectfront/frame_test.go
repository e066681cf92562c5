package connectfront

import (
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// frameRows reads an ExecutePlanResponse's Arrow row count from the raw frame, however the
// frame is split into buffers, and 0 for any other response or for garbage.
func TestFrameRows(t *testing.T) {
	data := make([]byte, 100000)
	batch, _ := proto.Marshal(&connect.ExecutePlanResponse{SessionId: "3f1c2e8a-9b7d-4e6f-a5c4-1d2e3f4a5b6c", OperationId: "op",
		ResponseType: &connect.ExecutePlanResponse_ArrowBatch_{ArrowBatch: &connect.ExecutePlanResponse_ArrowBatch{RowCount: 4321, Data: data}}})
	progress, _ := proto.Marshal(&connect.ExecutePlanResponse{SessionId: "s", ResponseType: &connect.ExecutePlanResponse_ExecutionProgress_{
		ExecutionProgress: &connect.ExecutePlanResponse_ExecutionProgress{NumInflightTasks: 3}}})
	for name, c := range map[string]struct {
		b    []byte
		want int64
	}{
		"batch":    {batch, 4321},
		"progress": {progress, 0},
		"garbage":  {[]byte{0xff, 0xff, 0xff}, 0},
		"empty":    {nil, 0},
	} {
		for _, split := range []int{1, 3, 17, 1 << 20} {
			var bs mem.BufferSlice
			for off := 0; off < len(c.b); off += split {
				bs = append(bs, mem.SliceBuffer(c.b[off:min(off+split, len(c.b))]))
			}
			if got := frameRows(bs); got != c.want {
				t.Errorf("%s split every %d bytes: %d rows, want %d", name, split, got, c.want)
			}
		}
	}
}
