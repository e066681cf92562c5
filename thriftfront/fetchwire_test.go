package thriftfront

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/thrift/lib/go/thrift"
	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/translate"
)

// everyType is a schema with a column of every type translate encodes.
var everyType = arrow.NewSchema([]arrow.Field{
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "lbin", Type: arrow.BinaryTypes.LargeBinary, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 5, Scale: 2}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "ntz", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "n", Type: arrow.Null, Nullable: true},
	{Name: "arr", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true},
	{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "f", Type: arrow.PrimitiveTypes.Int32, Nullable: true}), Nullable: true},
	{Name: "dt", Type: arrow.FixedWidthTypes.Duration_us, Nullable: true},
	{Name: "ym", Type: arrow.FixedWidthTypes.MonthInterval, Nullable: true},
}, nil)

const everyTypeRow = `{"b": true, "i8": -128, "i16": 32767, "i32": -7, "i64": 9223372036854775807, "f32": 0.1, "f64": -2.5,
	"s": "héllo", "ls": "x", "bin": "YWI=", "lbin": "AA==", "dec": "-1.50", "d": "2024-02-29", "ts": "2024-01-31T12:34:56.123456Z",
	"ntz": "2024-01-31 12:34:56.5", "n": null, "arr": [1, null], "m": [{"key": "a", "value": 1}], "st": {"f": 3},
	"dt": 93784000000, "ym": {"months": 14}}`

// everyTypeRows is n rows of everyType; every third row is all NULL.
func everyTypeRows(n, first int) string {
	var rows []string
	for i := range n {
		if (first+i)%3 == 1 {
			rows = append(rows, `{}`)
			continue
		}
		rows = append(rows, strings.Replace(everyTypeRow, `"i32": -7`, fmt.Sprintf(`"i32": %d`, first+i), 1))
	}
	return "[" + strings.Join(rows, ",") + "]"
}

// finishedOp registers, on a session of protocol version proto, a finished operation whose
// result is recs (released when the operation closes).
func finishedOp(t *testing.T, h *Handler, proto hiveserver.TProtocolVersion, recs []arrow.RecordBatch) *hiveserver.TOperationHandle {
	t.Helper()
	s := &session{guid: []byte(fmt.Sprintf("session-%02d-guid", proto)), secret: []byte("secret"), protocol: proto}
	ts, err := translate.TableSchema(everyType)
	if err != nil {
		t.Fatal(err)
	}
	op := newOperation(s, "", h.mem)
	op.rows.fill(recs)
	op.schema = ts
	op.state = hiveserver.TOperationState_FINISHED_STATE
	close(op.ready)
	h.mu.Lock() // a handle without an engine session behind it: not in the engine registry
	h.ops[string(op.guid)] = op
	h.mu.Unlock()
	t.Cleanup(func() { h.detachOp(op); op.close() })
	return h.opHandle(op, true)
}

// call sends one FetchResults through the processor for pf, as a connection would, and
// returns the reply's bytes.
func call(t *testing.T, proc *hiveserver.TCLIServiceProcessor, pf thrift.TProtocolFactory, req *hiveserver.TFetchResultsReq) []byte {
	t.Helper()
	ctx := context.Background()
	inBuf, outBuf := thrift.NewTMemoryBuffer(), thrift.NewTMemoryBuffer()
	w := pf.GetProtocol(inBuf)
	if err := w.WriteMessageBegin(ctx, "FetchResults", thrift.CALL, 7); err != nil {
		t.Fatal(err)
	}
	if err := (&hiveserver.TCLIServiceFetchResultsArgs{Req: req}).Write(ctx, w); err != nil {
		t.Fatal(err)
	}
	_ = w.WriteMessageEnd(ctx)
	_ = w.Flush(ctx)
	unknown := 0
	if ok, err := processOne(ctx, proc, pf.GetProtocol(inBuf), pf.GetProtocol(outBuf), &unknown); !ok || err != nil {
		t.Fatalf("processing FetchResults: %v, %v", ok, err)
	}
	return outBuf.Bytes()
}

// generatedReply decodes a FetchResults reply and writes it again with the generated code:
// the bytes a reply must be.
func generatedReply(t *testing.T, pf thrift.TProtocolFactory, reply []byte) ([]byte, *hiveserver.TFetchResultsResp) {
	t.Helper()
	ctx := context.Background()
	r := pf.GetProtocol(thrift.NewStreamTransportR(bytes.NewReader(reply)))
	name, typ, seq, err := r.ReadMessageBegin(ctx)
	if err != nil || name != "FetchResults" || typ != thrift.REPLY || seq != 7 {
		t.Fatalf("reply header %q %v %d: %v", name, typ, seq, err)
	}
	var res hiveserver.TCLIServiceFetchResultsResult
	if err := res.Read(ctx, r); err != nil {
		t.Fatalf("decoding the reply: %v", err)
	}
	if err := r.ReadMessageEnd(ctx); err != nil {
		t.Fatal(err)
	}
	buf := thrift.NewTMemoryBuffer()
	if err := writeReply(ctx, pf.GetProtocol(buf), 7, &res); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res.Success
}

// TestFetchReplyMatchesGenerated fetches a result of every type, NULLs included, spread over
// two Arrow batches, on sessions of every protocol version (row-based up to V5, columnar from
// V6) over the binary, compact and JSON protocols. Every reply — the page of rows, the empty
// last page and a log page — must be byte for byte what the generated code writes for the
// TCLIServiceFetchResultsResult it decodes to, and carry the rows in the right form.
func TestFetchReplyMatchesGenerated(t *testing.T) {
	factories := map[string]thrift.TProtocolFactory{
		"binary":  thrift.NewTBinaryProtocolFactoryConf(nil),
		"compact": thrift.NewTCompactProtocolFactoryConf(nil),
		"json":    thrift.NewTJSONProtocolFactory(),
	}
	mem := checkedAllocator(nil)
	cfg := DefaultConfig()
	cfg.Allocator = mem
	log := logrus.New()
	log.SetOutput(io.Discard)
	h := NewHandler(cfg, noEngines{}, logrus.NewEntry(log))
	t.Cleanup(func() { h.Close(); mem.AssertSize(t, 0) })

	for pfName, pf := range factories {
		proc := newProcessor(h, pf)
		for proto := hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V1; proto <= hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V11; proto++ {
			t.Run(fmt.Sprintf("%s/%s", pfName, proto), func(t *testing.T) {
				var recs []arrow.RecordBatch
				for _, js := range []string{everyTypeRows(5, 0), everyTypeRows(4, 5)} {
					rec, _, err := array.RecordFromJSON(mem, everyType, strings.NewReader(js))
					if err != nil {
						t.Fatal(err)
					}
					recs = append(recs, rec)
				}
				hd := finishedOp(t, h, proto, recs)
				columnar := proto >= hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6

				check := func(req *hiveserver.TFetchResultsReq) *hiveserver.TFetchResultsResp {
					t.Helper()
					got := call(t, proc, pf, req)
					want, resp := generatedReply(t, pf, got)
					if !bytes.Equal(got, want) {
						t.Fatalf("reply differs from the generated encoding\n got %x\nwant %x", got, want)
					}
					mustOK(t, resp.Status)
					if rs := resp.Results; columnar != (rs.Columns != nil) {
						t.Fatalf("columns %v for a columnar=%v session", rs.Columns != nil, columnar)
					}
					return resp
				}
				// 8 of the 9 rows: the page spans both batches.
				page := check(&hiveserver.TFetchResultsReq{OperationHandle: hd, MaxRows: 8})
				if !page.GetHasMoreRows() {
					t.Error("hasMoreRows false on a full page")
				}
				var ids []string
				if columnar {
					col := page.Results.Columns[3].I32Val
					for j, v := range col.Values {
						if col.Nulls[j/8]&(1<<(j%8)) != 0 {
							ids = append(ids, "NULL")
						} else {
							ids = append(ids, fmt.Sprint(v))
						}
					}
					if len(page.Results.Columns) != len(everyType.Fields()) {
						t.Fatalf("%d columns", len(page.Results.Columns))
					}
				} else {
					for _, row := range page.Results.Rows {
						if v := row.ColVals[3].I32Val; v.IsSetValue() {
							ids = append(ids, fmt.Sprint(v.GetValue()))
						} else {
							ids = append(ids, "NULL")
						}
					}
				}
				if got := strings.Join(ids, " "); got != "0 NULL 2 3 NULL 5 6 NULL" {
					t.Fatalf("i32 column %s", got)
				}
				last := check(&hiveserver.TFetchResultsReq{OperationHandle: hd, MaxRows: 8})
				if n := rowCount(last.Results); n != 1 || last.Results.StartRowOffset != 8 {
					t.Fatalf("second page: %d rows from %d", n, last.Results.StartRowOffset)
				}
				end := check(&hiveserver.TFetchResultsReq{OperationHandle: hd, MaxRows: 8})
				if end.GetHasMoreRows() || rowCount(end.Results) != 0 || (columnar && len(end.Results.Columns) != len(everyType.Fields())) {
					t.Fatalf("the empty last page: %v", end.Results)
				}
				check(&hiveserver.TFetchResultsReq{OperationHandle: hd, MaxRows: 8, FetchType: 1})
			})
		}
	}
}

// rowCount is the number of rows in rs, columnar or row-based.
func rowCount(rs *hiveserver.TRowSet) int {
	if len(rs.Columns) > 0 {
		return len(rs.Columns[0].BoolVal.Values)
	}
	return len(rs.Rows)
}

func TestEncodingOf(t *testing.T) {
	for _, tc := range []struct {
		pf   thrift.TProtocolFactory
		enc  translate.Encoding
		wire bool
	}{
		{thrift.NewTBinaryProtocolFactoryConf(nil), translate.Binary, true},
		{thrift.NewTBinaryProtocolFactoryConf(&thrift.TConfiguration{TBinaryStrictWrite: thrift.BoolPtr(false)}), translate.Binary, true},
		{thrift.NewTCompactProtocolFactoryConf(nil), translate.Compact, true},
		{thrift.NewTJSONProtocolFactory(), 0, false},
		{thrift.NewTSimpleJSONProtocolFactoryConf(nil), 0, false},
	} {
		if enc, wire := encodingOf(tc.pf); enc != tc.enc || wire != tc.wire {
			t.Errorf("encodingOf(%T) = %v, %v; want %v, %v", tc.pf, enc, wire, tc.enc, tc.wire)
		}
	}
}
