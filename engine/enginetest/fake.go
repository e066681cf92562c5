// Package enginetest provides an in-process fake Spark Connect engine for package tests of
// the frontends. It is never used by itest, which runs real Spark.
//
// The fake understands a few statements instead of SQL:
//
//	rows N         N rows of (id BIGINT, s STRING, even BOOLEAN, maybe INT, q DOUBLE), where
//	               maybe is NULL when id%3 == 0, sent in Arrow batches of BatchRows rows
//	rows N hang    the same rows, then nothing until the call is cancelled
//	rows N cut     the same rows, then the stream ends without a ResultComplete, as a
//	               reattachable execution's stream does
//	fail STATE     an analysis error with SQLSTATE STATE and error class FAKE_ERROR
//	ddl            a statement with no result set (no Arrow batch)
//	hang           a stream that sends nothing until the call is cancelled, or until
//	               Interrupt names its operation id (then OPERATION_CANCELED, as Spark)
//	progress       two execution-progress reports, then nothing until cancelled
//	bytes N SIZE   N Arrow-batch responses of SIZE opaque bytes each (not Arrow: for
//	               measuring transport, never for decoding)
//
// Any other statement fails with SQLSTATE 42601.
package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// BatchRows is the number of rows per Arrow batch the fake sends.
const BatchRows = 1000

// Spark is a fake Spark Connect server.
type Spark struct {
	connectgrpc.UnimplementedSparkConnectServiceServer

	Addr string

	srv *grpc.Server
	// mu guards calls, users, released, sets and interrupts.
	mu       sync.Mutex
	calls    []string
	users    []string
	released []string
	// lastUnknown holds the unknown fields of the last Config request.
	lastUnknown []byte
	// sets holds every conf set through Config, by key.
	sets map[string]string
	// interrupts holds the operation ids of Interrupt calls.
	interrupts []string
	// hanging holds, by operation id, the "hang" executions an Interrupt ends.
	hanging map[string]chan struct{}
}

// Sets returns the confs set through Config so far.
func (f *Spark) Sets() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.sets {
		out[k] = v
	}
	return out
}

// Users returns the user_context.user_id of every ExecutePlan and Config call, in order.
func (f *Spark) Users() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.users...)
}

func (f *Spark) sawUser(uc *connect.UserContext) {
	f.mu.Lock()
	f.users = append(f.users, uc.GetUserId())
	f.mu.Unlock()
}

// Start serves a fake on a loopback port until the test ends.
func Start(t testing.TB) *Spark {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Spark{Addr: ln.Addr().String(), srv: grpc.NewServer()}
	connectgrpc.RegisterSparkConnectServiceServer(f.srv, f)
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(f.srv.Stop)
	return f
}

// Stop kills the fake, as an engine crash would.
func (f *Spark) Stop() { f.srv.Stop() }

// Statements returns the SQL statements the fake received, in order.
func (f *Spark) Statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Released returns the session ids released so far.
func (f *Spark) Released() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.released...)
}

// AnalyzePlan answers the readiness probe.
func (f *Spark) AnalyzePlan(ctx context.Context, req *connect.AnalyzePlanRequest) (*connect.AnalyzePlanResponse, error) {
	if req.GetSparkVersion() == nil {
		return nil, status.Error(codes.Unimplemented, "fake: only SparkVersion")
	}
	return &connect.AnalyzePlanResponse{SessionId: req.SessionId, Result: &connect.AnalyzePlanResponse_SparkVersion_{
		SparkVersion: &connect.AnalyzePlanResponse_SparkVersion{Version: "4.3.0-fake"}}}, nil
}

// ReleaseSession records the release.
func (f *Spark) ReleaseSession(ctx context.Context, req *connect.ReleaseSessionRequest) (*connect.ReleaseSessionResponse, error) {
	f.mu.Lock()
	f.released = append(f.released, req.SessionId)
	f.mu.Unlock()
	return &connect.ReleaseSessionResponse{SessionId: req.SessionId}, nil
}

// Config echoes the keys it was asked to get, with value "v-<key>"; GetAll returns
// spark.app.name and the engine secret, as a real engine may.
func (f *Spark) Config(ctx context.Context, req *connect.ConfigRequest) (*connect.ConfigResponse, error) {
	f.sawUser(req.GetUserContext())
	f.mu.Lock()
	f.lastUnknown = append([]byte(nil), req.ProtoReflect().GetUnknown()...)
	f.mu.Unlock()
	resp := &connect.ConfigResponse{SessionId: req.SessionId}
	op := req.GetOperation()
	switch {
	case op.GetGet() != nil:
		for _, k := range op.GetGet().Keys {
			v := "v-" + k
			resp.Pairs = append(resp.Pairs, &connect.KeyValue{Key: k, Value: &v})
		}
	case op.GetGetOption() != nil:
		f.mu.Lock()
		for _, k := range op.GetGetOption().GetKeys() {
			kv := &connect.KeyValue{Key: k}
			if v, ok := f.sets[k]; ok {
				kv.Value = &v
			}
			resp.Pairs = append(resp.Pairs, kv)
		}
		f.mu.Unlock()
	case op.GetSet() != nil:
		f.mu.Lock()
		if f.sets == nil {
			f.sets = map[string]string{}
		}
		for _, kv := range op.GetSet().GetPairs() {
			f.sets[kv.GetKey()] = kv.GetValue()
		}
		f.mu.Unlock()
	case op.GetGetAll() != nil:
		name, secret := "fake", "engine-secret"
		resp.Pairs = append(resp.Pairs, &connect.KeyValue{Key: "spark.app.name", Value: &name},
			&connect.KeyValue{Key: "spark.connect.authenticate.token", Value: &secret})
	}
	return resp, nil
}

// Interrupts returns the operation ids interrupted through Interrupt so far.
func (f *Spark) Interrupts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.interrupts...)
}

// Interrupt records the operation id it is asked to interrupt.
func (f *Spark) Interrupt(ctx context.Context, req *connect.InterruptRequest) (*connect.InterruptResponse, error) {
	f.sawUser(req.GetUserContext())
	f.mu.Lock()
	f.interrupts = append(f.interrupts, req.GetOperationId())
	if stop, ok := f.hanging[req.GetOperationId()]; ok {
		close(stop)
		delete(f.hanging, req.GetOperationId())
	}
	f.mu.Unlock()
	return &connect.InterruptResponse{SessionId: req.SessionId, InterruptedIds: []string{req.GetOperationId()}}, nil
}

// ExecutePlan runs one of the fake statements.
func (f *Spark) ExecutePlan(req *connect.ExecutePlanRequest, stream grpc.ServerStreamingServer[connect.ExecutePlanResponse]) error {
	q := req.GetPlan().GetRoot().GetSql().GetQuery()
	f.sawUser(req.GetUserContext())
	f.mu.Lock()
	f.calls = append(f.calls, q)
	f.mu.Unlock()
	fields := strings.Fields(q)
	done := &connect.ExecutePlanResponse{SessionId: req.SessionId, OperationId: req.GetOperationId(),
		ResponseType: &connect.ExecutePlanResponse_ResultComplete_{ResultComplete: &connect.ExecutePlanResponse_ResultComplete{}}}
	switch {
	case (len(fields) == 2 || len(fields) == 3 && (fields[2] == "hang" || fields[2] == "cut")) && fields[0] == "rows":
		n, err := strconv.Atoi(fields[1])
		if err != nil {
			return sparkError("42601", "PARSE_SYNTAX_ERROR", "bad row count")
		}
		for off := 0; off < n || off == 0; off += BatchRows {
			data, rows, err := rowsBatch(off, min(BatchRows, n-off))
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			if err := stream.Send(&connect.ExecutePlanResponse{SessionId: req.SessionId, OperationId: req.GetOperationId(),
				ResponseType: &connect.ExecutePlanResponse_ArrowBatch_{ArrowBatch: &connect.ExecutePlanResponse_ArrowBatch{RowCount: rows, Data: data}}}); err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
		switch {
		case len(fields) == 3 && fields[2] == "hang":
			<-stream.Context().Done()
			return stream.Context().Err()
		case len(fields) == 3 && fields[2] == "cut":
			return nil // as a reattachable execution's stream ends: no ResultComplete yet
		}
		return stream.Send(done)
	case len(fields) == 3 && fields[0] == "bytes":
		n, err1 := strconv.Atoi(fields[1])
		size, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil || n < 0 || size < 0 || size > 64<<20 {
			return sparkError("42601", "PARSE_SYNTAX_ERROR", "bad bytes statement")
		}
		resp := &connect.ExecutePlanResponse{SessionId: req.SessionId, OperationId: req.GetOperationId(),
			ResponseType: &connect.ExecutePlanResponse_ArrowBatch_{ArrowBatch: &connect.ExecutePlanResponse_ArrowBatch{Data: bytes.Repeat([]byte{0xa5}, size)}}}
		for i := 0; i < n; i++ {
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
		return stream.Send(done)
	case len(fields) == 2 && fields[0] == "fail":
		return sparkError(fields[1], "FAKE_ERROR", "[FAKE_ERROR] the fake was asked to fail")
	case q == "ddl":
		return stream.Send(done)
	case q == "progress":
		// Two progress reports, then hold until cancelled: a query still running.
		for i := int64(1); i <= 2; i++ {
			p := &connect.ExecutePlanResponse_ExecutionProgress{NumInflightTasks: 1, Stages: []*connect.ExecutePlanResponse_ExecutionProgress_StageInfo{
				{StageId: 0, NumTasks: 4, NumCompletedTasks: 2 * i, Done: i == 2}, {StageId: 1, NumTasks: 2, NumCompletedTasks: 0}}}
			if err := stream.Send(&connect.ExecutePlanResponse{SessionId: req.SessionId,
				ResponseType: &connect.ExecutePlanResponse_ExecutionProgress_{ExecutionProgress: p}}); err != nil {
				return err
			}
		}
		<-stream.Context().Done()
		return stream.Context().Err()
	case q == "hang":
		// As Spark does, an interrupt ends the execution with OPERATION_CANCELED.
		stop := make(chan struct{})
		f.mu.Lock()
		if f.hanging == nil {
			f.hanging = map[string]chan struct{}{}
		}
		f.hanging[req.GetOperationId()] = stop
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			if f.hanging[req.GetOperationId()] == stop {
				delete(f.hanging, req.GetOperationId())
			}
			f.mu.Unlock()
		}()
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-stop:
			return sparkError("HY008", "OPERATION_CANCELED", "[OPERATION_CANCELED] Operation has been canceled.")
		}
	case len(fields) == 2 && fields[0] == "sleep":
		// A statement that ends with no result after the given duration ("sleep 200ms").
		d, err := time.ParseDuration(fields[1])
		if err != nil {
			return sparkError("42601", "PARSE_SYNTAX_ERROR", "bad sleep duration")
		}
		select {
		case <-time.After(d):
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
		return stream.Send(done)
	}
	return sparkError("42601", "PARSE_SYNTAX_ERROR", fmt.Sprintf("[PARSE_SYNTAX_ERROR] fake cannot run %q", q))
}

// sparkError builds the status a Spark Connect server returns for a SparkThrowable.
func sparkError(sqlState, class, msg string) error {
	st, _ := status.New(codes.InvalidArgument, msg).WithDetails(&errdetails.ErrorInfo{
		Reason:   "org.apache.spark.sql.AnalysisException",
		Domain:   "org.apache.spark",
		Metadata: map[string]string{"errorClass": class, "sqlState": sqlState},
	})
	return st.Err()
}

// RowsSchema is the schema of "rows N".
var RowsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String},
	{Name: "even", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "maybe", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "q", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// rowsBatch encodes rows [off, off+n) of "rows N" as an Arrow IPC stream.
func rowsBatch(off, n int) ([]byte, int64, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, RowsSchema)
	defer b.Release()
	for id := off; id < off+n; id++ {
		b.Field(0).(*array.Int64Builder).Append(int64(id))
		b.Field(1).(*array.StringBuilder).Append(strconv.Itoa(id))
		b.Field(2).(*array.BooleanBuilder).Append(id%2 == 0)
		if id%3 == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Int32Builder).Append(int32(id))
		}
		b.Field(4).(*array.Float64Builder).Append(float64(id) / 4)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(RowsSchema))
	if err := w.Write(rec); err != nil {
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), int64(n), nil
}

// CloneSession answers with the requested or a fresh new session id.
func (f *Spark) CloneSession(ctx context.Context, req *connect.CloneSessionRequest) (*connect.CloneSessionResponse, error) {
	id := req.GetNewSessionId()
	if id == "" {
		id = "5a0c8d2e-1b7f-4e3a-9c6d-0f2e4b8a1c3d"
	}
	return &connect.CloneSessionResponse{SessionId: req.SessionId, NewSessionId: id}, nil
}

// LastConfigUnknown returns the unknown fields of the last Config request, as the fake
// received them.
func (f *Spark) LastConfigUnknown() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastUnknown
}
