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

// viaTColumns is the reference: the row set built as TColumns and written by the generated
// Thrift code.
func viaTColumns(t testing.TB, start int64, slices []Slice) []byte {
	t.Helper()
	var rs *hiveserver.TRowSet
	for _, s := range slices {
		part, err := ColumnarRowSet(s.Rec, s.Off, s.Len, start)
		if err != nil {
			t.Fatal(err)
		}
		if rs == nil {
			rs = part
		} else if err := AppendRowSet(rs, part); err != nil {
			t.Fatal(err)
		}
	}
	buf := thrift.NewTMemoryBuffer()
	if err := rs.Write(context.Background(), thrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
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

func TestAppendColumnarRowSetMatchesTColumns(t *testing.T) {
	mem := checkedAlloc(t)
	for _, tc := range columnCases {
		t.Run(tc.name, func(t *testing.T) {
			rec := oneColumn(fromJSON(t, mem, tc.dt, tc.json))
			defer rec.Release()
			// A record whose arrays start at a non-zero offset, as sliced batches do.
			shifted := rec.NewSlice(1, rec.NumRows())
			defer shifted.Release()
			for _, r := range []arrow.RecordBatch{rec, shifted} {
				for name, slices := range splits(r) {
					if len(slices) == 0 {
						continue
					}
					want := viaTColumns(t, 42, slices)
					got, err := AppendColumnarRowSet([]byte("prefix"), 42, slices)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[6:], want) {
						t.Fatalf("%s (offset %d): encodings differ\n got %x\nwant %x", name, r.Column(0).Data().Offset(), got[6:], want)
					}
				}
			}
		})
	}
}

func TestAppendColumnarRowSetAcrossBatches(t *testing.T) {
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
	want := viaTColumns(t, 7, slices)
	got, err := AppendColumnarRowSet(nil, 7, slices)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodings differ\n got %x\nwant %x", got, want)
	}
	// And the bytes decode to the rows, in order.
	var rs hiveserver.TRowSet
	if err := rs.Read(context.Background(), thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportR(bytes.NewReader(got)), nil)); err != nil {
		t.Fatal(err)
	}
	if ids := rs.Columns[0].I64Val.Values; fmt.Sprint(ids) != "[2 0 4 0 6]" || fmt.Sprint(rs.Columns[0].I64Val.Nulls) != "[10]" {
		t.Fatalf("ids %v nulls %v", ids, rs.Columns[0].I64Val.Nulls)
	}
	if names := rs.Columns[1].StringVal.Values; fmt.Sprintf("%q", names) != `["" "three" "four" "" ""]` {
		t.Fatalf("names %q", names)
	}
}

func TestAppendColumnarRowSetErrors(t *testing.T) {
	mem := checkedAlloc(t)
	a := oneColumn(fromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[1, 2]`))
	defer a.Release()
	b := oneColumn(fromJSON(t, mem, arrow.BinaryTypes.String, `["x"]`))
	defer b.Release()
	if _, err := AppendColumnarRowSet(nil, 0, nil); err == nil {
		t.Error("no slices: want an error")
	}
	if _, err := AppendColumnarRowSet(nil, 0, []Slice{{a, 1, 2}}); err == nil {
		t.Error("rows past the end: want an error")
	}
	if _, err := AppendColumnarRowSet(nil, 0, []Slice{{a, 0, 2}, {b, 0, 1}}); err == nil {
		t.Error("a column changing type: want an error")
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

// BenchmarkEncodePage encodes a 10,000-row page to Thrift bytes both ways: through TColumns
// and the generated writer (the route before AppendColumnarRowSet), and straight from Arrow.
func BenchmarkEncodePage(b *testing.B) {
	const rows = 10_000
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	rec := benchRecord(b, mem, rows)
	defer rec.Release()
	slices := []Slice{{rec, 0, rows}}

	b.Run("tcolumn", func(b *testing.B) {
		b.ReportAllocs()
		buf := thrift.NewTMemoryBufferLen(4 << 20)
		for b.Loop() {
			buf.Reset()
			rs, err := ColumnarRowSet(rec, 0, rows, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := rs.Write(context.Background(), thrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			var err error
			if out, err = AppendColumnarRowSet(out[:0], 0, slices); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(out)))
	})
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
	page, err := AppendColumnarRowSet(nil, 0, []Slice{{rec, 0, rows}})
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
