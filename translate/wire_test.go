package translate

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/thrift/lib/go/thrift"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

var encodings = map[string]Encoding{"binary": Binary, "compact": Compact}

// protocolOf is the Thrift library's protocol for enc over trans.
func protocolOf(enc Encoding, trans thrift.TTransport) thrift.TProtocol {
	if enc == Compact {
		return thrift.NewTCompactProtocolConf(trans, nil)
	}
	return thrift.NewTBinaryProtocolConf(trans, nil)
}

// generated is the reference: rs written in enc by the generated code.
func generated(t testing.TB, rs *hiveserver.TRowSet, enc Encoding) []byte {
	t.Helper()
	buf := thrift.NewTMemoryBuffer()
	if err := rs.Write(context.Background(), protocolOf(enc, buf)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// roundTrip decodes an encoded row set with the generated reader, checks that the generated
// writer gives the same bytes back, and returns the row set.
func roundTrip(t testing.TB, got []byte, enc Encoding) *hiveserver.TRowSet {
	t.Helper()
	var rs hiveserver.TRowSet
	if err := rs.Read(context.Background(), protocolOf(enc, thrift.NewStreamTransportR(bytes.NewReader(got)))); err != nil {
		t.Fatalf("decoding the row set: %v", err)
	}
	if want := generated(t, &rs, enc); !bytes.Equal(got, want) {
		t.Fatalf("the generated writer encodes the decoded row set differently\n got %x\nwant %x", got, want)
	}
	return &rs
}

// fixtureRowSet is the row set the fixture column want should encode to, for n rows from
// row off, columnar or row-based.
func fixtureRowSet(want *hiveserver.TColumn, off, n int, start int64, columnar bool) *hiveserver.TRowSet {
	col := sliceColumn(want, off, n)
	if columnar {
		return &hiveserver.TRowSet{StartRowOffset: start, Rows: []*hiveserver.TRow{}, Columns: []*hiveserver.TColumn{col}}
	}
	rs := &hiveserver.TRowSet{StartRowOffset: start, Rows: []*hiveserver.TRow{}}
	for _, cell := range cellsOf(col) {
		rs.Rows = append(rs.Rows, &hiveserver.TRow{ColVals: []*hiveserver.TColumnValue{cell}})
	}
	return rs
}

// splits cuts n rows into slices several ways: whole, first row apart, one row each, and
// uneven pieces that cross the null bitmap's byte boundaries.
func splits(rec arrow.RecordBatch) map[string][]Slice {
	n := int(rec.NumRows())
	out := map[string][]Slice{"whole": {{rec, 0, n}}}
	if n > 1 {
		out["head"] = []Slice{{rec, 0, 1}, {rec, 1, n - 1}}
		out["tail only"] = []Slice{{rec, 1, n - 1}}
	}
	var each, uneven []Slice
	for j := 0; j < n; j++ {
		each = append(each, Slice{rec, j, 1})
	}
	for j, w := 0, 3; j < n; j, w = j+w, w+2 {
		uneven = append(uneven, Slice{rec, j, min(w, n-j)})
	}
	out["each row"], out["uneven"] = each, uneven
	return out
}

// TestAppendRowSetMatchesGenerated checks, for every type the package encodes (every one
// holding a null), in both encodings and both row formats, and for pages cut from records
// every way, that AppendRowSet writes byte for byte what the generated code writes for the
// row set the fixture describes.
func TestAppendRowSetMatchesGenerated(t *testing.T) {
	mem := checkedAlloc(t)
	for _, tc := range columnCases {
		t.Run(tc.name, func(t *testing.T) {
			rec := oneColumn(fromJSON(t, mem, tc.dt, tc.json))
			defer rec.Release()
			// A record whose arrays start at a non-zero offset, as sliced batches do.
			shifted := rec.NewSlice(1, rec.NumRows())
			defer shifted.Release()
			for shift, r := range []arrow.RecordBatch{rec, shifted} {
				for name, slices := range splits(r) {
					if len(slices) == 0 {
						continue
					}
					total := 0
					for _, s := range slices {
						total += s.Len
					}
					for encName, enc := range encodings {
						for _, columnar := range []bool{true, false} {
							want := generated(t, fixtureRowSet(tc.want, shift+slices[0].Off, total, 42, columnar), enc)
							got, err := AppendRowSet([]byte("prefix"), enc, columnar, 42, slices)
							if err != nil {
								t.Fatalf("%s %s columnar=%v: %v", name, encName, columnar, err)
							}
							if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[6:], want) {
								t.Fatalf("%s (offset %d) %s columnar=%v: encodings differ\n got %x\nwant %x",
									name, r.Column(0).Data().Offset(), encName, columnar, got[6:], want)
							}
						}
					}
				}
			}
		})
	}
}

func TestAppendRowSetAcrossBatches(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	first, _, err := array.RecordFromJSON(mem, schema, stringsReader(`[
		{"id": 1, "name": "one", "tags": ["a"], "ok": true},
		{"id": 2, "name": null, "tags": [], "ok": null},
		{"id": null, "name": "three", "tags": null, "ok": false}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	second, _, err := array.RecordFromJSON(mem, schema, stringsReader(`[
		{"id": 4, "name": "four", "tags": ["b", "c"], "ok": true},
		{"id": null, "name": null, "tags": null, "ok": null},
		{"id": 6, "name": "", "tags": [null], "ok": false}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	slices := []Slice{{first, 1, 2}, {second, 0, 3}}
	ok := func(b bool) *hiveserver.TColumnValue {
		return &hiveserver.TColumnValue{BoolVal: &hiveserver.TBoolValue{Value: &b}}
	}
	str := func(s string) *hiveserver.TColumnValue {
		return &hiveserver.TColumnValue{StringVal: &hiveserver.TStringValue{Value: &s}}
	}
	id := func(v int64) *hiveserver.TColumnValue {
		return &hiveserver.TColumnValue{I64Val: &hiveserver.TI64Value{Value: &v}}
	}
	null := func(v *hiveserver.TColumnValue) *hiveserver.TColumnValue {
		switch {
		case v.I64Val != nil:
			v.I64Val.Value = nil
		case v.BoolVal != nil:
			v.BoolVal.Value = nil
		default:
			v.StringVal.Value = nil
		}
		return v
	}
	row := func(cells ...*hiveserver.TColumnValue) *hiveserver.TRow { return &hiveserver.TRow{ColVals: cells} }
	want := map[bool]*hiveserver.TRowSet{
		true: {StartRowOffset: 7, Rows: []*hiveserver.TRow{}, Columns: []*hiveserver.TColumn{
			{I64Val: &hiveserver.TI64Column{Values: []int64{2, 0, 4, 0, 6}, Nulls: bitmap(5, 1, 3)}},
			strCol(bitmap(5, 0, 3), "", "three", "four", "", ""),
			strCol(bitmap(5, 1, 3), "[]", "", `["b","c"]`, "", "[null]"),
			{BoolVal: &hiveserver.TBoolColumn{Values: []bool{false, false, true, false, false}, Nulls: bitmap(5, 0, 3)}},
		}},
		false: {StartRowOffset: 7, Rows: []*hiveserver.TRow{
			row(id(2), null(str("")), str("[]"), null(ok(false))),
			row(null(id(0)), str("three"), null(str("")), ok(false)),
			row(id(4), str("four"), str(`["b","c"]`), ok(true)),
			row(null(id(0)), null(str("")), null(str("")), null(ok(false))),
			row(id(6), str(""), str("[null]"), ok(false)),
		}},
	}
	for encName, enc := range encodings {
		for _, columnar := range []bool{true, false} {
			got, err := AppendRowSet(nil, enc, columnar, 7, slices)
			if err != nil {
				t.Fatal(err)
			}
			if w := generated(t, want[columnar], enc); !bytes.Equal(got, w) {
				t.Fatalf("%s columnar=%v: encodings differ\n got %x\nwant %x", encName, columnar, got, w)
			}
		}
	}
}

func TestAppendRowSetErrors(t *testing.T) {
	mem := checkedAlloc(t)
	a := oneColumn(fromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[1, 2]`))
	defer a.Release()
	b := oneColumn(fromJSON(t, mem, arrow.BinaryTypes.String, `["x"]`))
	defer b.Release()
	for _, columnar := range []bool{true, false} {
		if _, err := AppendRowSet(nil, Binary, columnar, 0, nil); err == nil {
			t.Error("no slices: want an error")
		}
		if _, err := AppendRowSet(nil, Binary, columnar, 0, []Slice{{a, 1, 2}}); err == nil {
			t.Error("rows past the end: want an error")
		}
		if _, err := AppendRowSet(nil, Compact, columnar, 0, []Slice{{a, 0, 2}, {b, 0, 1}}); err == nil {
			t.Error("a column changing type: want an error")
		}
		if _, err := AppendRowSet(nil, 0, columnar, 0, []Slice{{a, 0, 2}}); err == nil {
			t.Error("no encoding: want an error")
		}
	}
}

// benchRecord is rows × (5 BIGINT + 5 STRING) with a null every 97 rows per column: the
// shape of the benchmark dataset.
func benchRecord(b *testing.B, mem memory.Allocator, rows int) arrow.RecordBatch {
	var fields []arrow.Field
	for i := range 5 {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("i%d", i), Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	for i := range 5 {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("s%d", i), Type: arrow.BinaryTypes.String, Nullable: true})
	}
	bld := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer bld.Release()
	for r := range rows {
		for c := range 5 {
			ib := bld.Field(c).(*array.Int64Builder)
			sb := bld.Field(5 + c).(*array.StringBuilder)
			if r%97 == c {
				ib.AppendNull()
				sb.AppendNull()
				continue
			}
			ib.Append(int64(r * c))
			sb.Append(fmt.Sprintf("%012x", r*7919+c))
		}
	}
	return bld.NewRecordBatch()
}

// BenchmarkEncodePage encodes a 10,000-row page to Thrift bytes straight from Arrow: columnar
// in the binary encoding ("wire", the case BENCHMARKS.md tracks), columnar in the compact
// encoding, and row-based in the binary encoding.
func BenchmarkEncodePage(b *testing.B) {
	const rows = 10_000
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	rec := benchRecord(b, mem, rows)
	defer rec.Release()
	slices := []Slice{{rec, 0, rows}}
	for _, bc := range []struct {
		name     string
		enc      Encoding
		columnar bool
	}{{"wire", Binary, true}, {"compact", Compact, true}, {"rowbased", Binary, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				var err error
				if out, err = AppendRowSet(out[:0], bc.enc, bc.columnar, 0, slices); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(out)))
		})
	}
}

// BenchmarkDecodePage is the client's side of a page: the generated Thrift reader decoding
// the 10,000-row page that BenchmarkEncodePage writes. It bounds how fast any HS2 client
// built on generated code can fetch.
func BenchmarkDecodePage(b *testing.B) {
	const rows = 10_000
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	rec := benchRecord(b, mem, rows)
	defer rec.Release()
	page, err := AppendRowSet(nil, Binary, true, 0, []Slice{{rec, 0, rows}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	r := bytes.NewReader(page)
	for b.Loop() {
		r.Reset(page)
		var rs hiveserver.TRowSet
		if err := rs.Read(context.Background(), thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportR(r), nil)); err != nil {
			b.Fatal(err)
		}
	}
}
