package translate

import (
	"math"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

func strCol(nulls []byte, vals ...string) *hiveserver.TColumn {
	return &hiveserver.TColumn{StringVal: &hiveserver.TStringColumn{Values: vals, Nulls: nulls}}
}

// A column of each type Spark Connect sends, every one holding a null, and
// the Thrift column the Spark Thrift Server would send for it.
var columnCases = []struct {
	name string
	dt   arrow.DataType
	json string
	want *hiveserver.TColumn
}{
	{
		name: "boolean", dt: arrow.FixedWidthTypes.Boolean, json: `[true, null, false]`,
		want: &hiveserver.TColumn{BoolVal: &hiveserver.TBoolColumn{Values: []bool{true, false, false}, Nulls: bitmap(3, 1)}},
	},
	{
		name: "tinyint", dt: arrow.PrimitiveTypes.Int8, json: `[1, null, -128, 127]`,
		want: &hiveserver.TColumn{ByteVal: &hiveserver.TByteColumn{Values: []int8{1, 0, -128, 127}, Nulls: bitmap(4, 1)}},
	},
	{
		name: "smallint", dt: arrow.PrimitiveTypes.Int16, json: `[null, -32768, 32767]`,
		want: &hiveserver.TColumn{I16Val: &hiveserver.TI16Column{Values: []int16{0, -32768, 32767}, Nulls: bitmap(3, 0)}},
	},
	{
		name: "int", dt: arrow.PrimitiveTypes.Int32, json: `[7, -2147483648, null]`,
		want: &hiveserver.TColumn{I32Val: &hiveserver.TI32Column{Values: []int32{7, math.MinInt32, 0}, Nulls: bitmap(3, 2)}},
	},
	{
		name: "bigint", dt: arrow.PrimitiveTypes.Int64,
		json: `[9223372036854775807, null, -9223372036854775808, 0, 1, 2, 3, 4, null, 5]`,
		want: &hiveserver.TColumn{I64Val: &hiveserver.TI64Column{
			Values: []int64{math.MaxInt64, 0, math.MinInt64, 0, 1, 2, 3, 4, 0, 5},
			Nulls:  bitmap(10, 1, 8),
		}},
	},
	{
		name: "float", dt: arrow.PrimitiveTypes.Float32, json: `[0.1, null, 1.5, 3.4028235e38, -0.3]`,
		want: &hiveserver.TColumn{DoubleVal: &hiveserver.TDoubleColumn{
			Values: []float64{0.1, 0, 1.5, 3.4028235e38, -0.3},
			Nulls:  bitmap(5, 1),
		}},
	},
	{
		name: "double", dt: arrow.PrimitiveTypes.Float64, json: `[0.1, null, -2.5]`,
		want: &hiveserver.TColumn{DoubleVal: &hiveserver.TDoubleColumn{Values: []float64{0.1, 0, -2.5}, Nulls: bitmap(3, 1)}},
	},
	{
		name: "string", dt: arrow.BinaryTypes.String, json: `["a", null, "héllo", "", "say \"hi\""]`,
		want: strCol(bitmap(5, 1), "a", "", "héllo", "", `say "hi"`),
	},
	{
		name: "large string", dt: arrow.BinaryTypes.LargeString, json: `[null, "x"]`,
		want: strCol(bitmap(2, 0), "", "x"),
	},
	{
		// JSON binaries are base64: "YWI=" is "ab", "AA==" is a NUL byte.
		name: "binary", dt: arrow.BinaryTypes.Binary, json: `["YWI=", null, "", "AA=="]`,
		want: &hiveserver.TColumn{BinaryVal: &hiveserver.TBinaryColumn{
			Values: [][]byte{[]byte("ab"), nil, {}, {0}},
			Nulls:  bitmap(4, 1),
		}},
	},
	{
		name: "large binary", dt: arrow.BinaryTypes.LargeBinary, json: `[null, "YWI="]`,
		want: &hiveserver.TColumn{BinaryVal: &hiveserver.TBinaryColumn{Values: [][]byte{nil, []byte("ab")}, Nulls: bitmap(2, 0)}},
	},
	{
		name: "decimal", dt: &arrow.Decimal128Type{Precision: 5, Scale: 2}, json: `["1.50", null, "-0.05", "0", "-123.45"]`,
		want: strCol(bitmap(5, 1), "1.50", "", "-0.05", "0.00", "-123.45"),
	},
	{
		name: "decimal wide", dt: &arrow.Decimal128Type{Precision: 38, Scale: 0},
		json: `["99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", null]`,
		want: strCol(bitmap(3, 2), "99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", ""),
	},
	{
		name: "date", dt: arrow.FixedWidthTypes.Date32, json: `["2024-01-31", null, "1969-12-31", "0001-01-01"]`,
		want: strCol(bitmap(4, 1), "2024-01-31", "", "1969-12-31", "0001-01-01"),
	},
	{
		name: "timestamp", dt: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
		json: `["2024-01-31T12:34:56.123456Z", null, "2024-01-31T12:34:56Z", "2024-01-31T12:34:56.1Z", "1900-01-01T00:00:00.000001Z"]`,
		want: strCol(bitmap(5, 1), "2024-01-31 12:34:56.123456", "", "2024-01-31 12:34:56", "2024-01-31 12:34:56.1", "1900-01-01 00:00:00.000001"),
	},
	{
		name: "timestamp in session zone", dt: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "America/Los_Angeles"},
		json: `[1706704496123000, null]`,
		want: strCol(bitmap(2, 1), "2024-01-31 12:34:56.123", ""),
	},
	{
		name: "timestamp_ntz", dt: &arrow.TimestampType{Unit: arrow.Microsecond},
		json: `["2024-01-31 12:34:56.5", null]`,
		want: strCol(bitmap(2, 1), "2024-01-31 12:34:56.5", ""),
	},
	{
		name: "null", dt: arrow.Null, json: `[null, null, null]`,
		want: strCol(bitmap(3, 0, 1, 2), "", "", ""),
	},
	{
		name: "array", dt: arrow.ListOf(arrow.PrimitiveTypes.Int64), json: `[[1, 2, null], null, [], [3]]`,
		want: strCol(bitmap(4, 1), "[1,2,null]", "", "[]", "[3]"),
	},
	{
		name: "array of strings", dt: arrow.LargeListOf(arrow.BinaryTypes.String), json: `[["a", null, ""], null]`,
		want: strCol(bitmap(2, 1), `["a",null,""]`, ""),
	},
	{
		name: "array of doubles", dt: arrow.ListOf(arrow.PrimitiveTypes.Float64),
		json: `[[0.1, 1e10, 1e-5, 100, -0.0, 1234567.5, 12345678.5]]`,
		want: strCol(bitmap(1), "[0.1,1.0E10,1.0E-5,100.0,-0.0,1234567.5,1.23456785E7]"),
	},
	{
		name: "array of floats", dt: arrow.ListOf(arrow.PrimitiveTypes.Float32), json: `[[0.1, 3.4028235e38, 1.0]]`,
		want: strCol(bitmap(1), "[0.1,3.4028235E38,1.0]"),
	},
	{
		name: "map", dt: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64),
		json: `[[{"key": "b", "value": null}, {"key": "a", "value": 1}], null, []]`,
		want: strCol(bitmap(3, 1), `{"a":1,"b":null}`, "", "{}"),
	},
	{
		name: "struct",
		dt: arrow.StructOf(
			arrow.Field{Name: "f1", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: "f2", Type: arrow.BinaryTypes.String, Nullable: true},
		),
		json: `[{"f1": 1, "f2": "x"}, null, {"f1": null, "f2": null}]`,
		want: strCol(bitmap(3, 1), `{"f1":1,"f2":"x"}`, "", `{"f1":null,"f2":null}`),
	},
	{
		name: "struct of everything",
		dt: arrow.StructOf(
			arrow.Field{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
			arrow.Field{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 3}, Nullable: true},
			arrow.Field{Name: "dt", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
			arrow.Field{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
			arrow.Field{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
			arrow.Field{Name: "m", Type: arrow.MapOf(arrow.PrimitiveTypes.Int32, arrow.ListOf(arrow.BinaryTypes.String)), Nullable: true},
			arrow.Field{Name: "iv", Type: arrow.FixedWidthTypes.Duration_us, Nullable: true},
			arrow.Field{Name: "n", Type: arrow.Null, Nullable: true},
		),
		json: `[{"b": true, "d": "-1.5", "dt": "2024-02-29", "ts": "2024-01-31T00:00:00.25Z", "bin": "YWI=",
			"m": [{"key": 2, "value": ["x"]}, {"key": 10, "value": null}], "iv": 1000000, "n": null}]`,
		want: strCol(bitmap(1),
			`{"b":true,"d":-1.500,"dt":2024-02-29,"ts":2024-01-31 00:00:00.25,"bin":ab,"m":{10:null,2:["x"]},"iv":0 00:00:01.000000000,"n":null}`),
	},
	{
		name: "day-time interval", dt: arrow.FixedWidthTypes.Duration_us,
		json: `[93784000000, null, -1500000, -9223372036854775808, 0]`,
		want: strCol(bitmap(5, 1), "1 02:03:04.000000000", "", "-0 00:00:01.500000000", "-106751991 04:00:54.775808000", "0 00:00:00.000000000"),
	},
	{
		name: "year-month interval", dt: arrow.FixedWidthTypes.MonthInterval, json: `[{"months": 14}, null, {"months": -14}, {"months": 0}, {"months": -2147483648}]`,
		want: strCol(bitmap(5, 1), "1-2", "", "-1-2", "0-0", "-178956970-8"),
	},
}

func TestColumnarRowSet(t *testing.T) {
	for _, tc := range columnCases {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			rec := oneColumn(fromJSON(t, mem, tc.dt, tc.json))
			defer rec.Release()
			n := int(rec.NumRows())

			// Every window of the record, including empty ones at both ends.
			for off := 0; off <= n; off++ {
				for length := 0; off+length <= n; length++ {
					got, err := ColumnarRowSet(rec, off, length, 100)
					if err != nil {
						t.Fatalf("ColumnarRowSet(%d, %d): %v", off, length, err)
					}
					want := &hiveserver.TRowSet{
						StartRowOffset: 100,
						Rows:           []*hiveserver.TRow{},
						Columns:        []*hiveserver.TColumn{sliceColumn(tc.want, off, length)},
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("ColumnarRowSet(%d, %d)\n got %s\nwant %s", off, length, got, want)
					}
				}
			}
		})
	}
}

func TestRowBasedRowSet(t *testing.T) {
	for _, tc := range columnCases {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			rec := oneColumn(fromJSON(t, mem, tc.dt, tc.json))
			defer rec.Release()
			n := int(rec.NumRows())

			for off := 0; off <= n; off++ {
				length := n - off
				got, err := RowBasedRowSet(rec, off, length, 5)
				if err != nil {
					t.Fatalf("RowBasedRowSet(%d, %d): %v", off, length, err)
				}
				want := &hiveserver.TRowSet{StartRowOffset: 5, Rows: []*hiveserver.TRow{}}
				for _, cell := range cellsOf(sliceColumn(tc.want, off, length)) {
					want.Rows = append(want.Rows, &hiveserver.TRow{ColVals: []*hiveserver.TColumnValue{cell}})
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("RowBasedRowSet(%d, %d)\n got %s\nwant %s", off, length, got, want)
				}
			}
		})
	}
}

// TestRowSetSharesNoMemory overwrites and releases the record before reading
// the row set: the caller may recycle a record's buffers as soon as the row
// set is built.
func TestRowSetSharesNoMemory(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "b", Type: arrow.BinaryTypes.Binary},
	}, nil)
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	bld.Field(0).(*array.StringBuilder).AppendValues([]string{"abc", "def"}, nil)
	bld.Field(1).(*array.BinaryBuilder).AppendValues([][]byte{[]byte("xyz"), []byte("uvw")}, nil)
	rec := bld.NewRecordBatch()
	col, row := rec.Column(0).(*array.String), rec.Column(1).(*array.Binary)

	rs, err := ColumnarRowSet(rec, 0, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over the record's value buffers.
	clear(col.ValueBytes())
	clear(row.ValueBytes())
	rec.Release()
	if got := rs.Columns[0].StringVal.Values; !reflect.DeepEqual(got, []string{"abc", "def"}) {
		t.Errorf("strings = %q after the record changed", got)
	}
	if got := rs.Columns[1].BinaryVal.Values; !reflect.DeepEqual(got, [][]byte{[]byte("xyz"), []byte("uvw")}) {
		t.Errorf("binaries = %q after the record changed", got)
	}
}

// TestRowSetManyColumns checks that columns keep their order and that a
// record sliced by Arrow itself (a non-zero array offset) is read from the
// right place.
func TestRowSetManyColumns(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, stringsReader(`[
		{"id": 1, "name": "one", "tags": ["a"]},
		{"id": 2, "name": null, "tags": []},
		{"id": null, "name": "three", "tags": null},
		{"id": 4, "name": "four", "tags": ["b", "c"]}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	sliced := rec.NewSlice(1, 4)
	defer sliced.Release()

	got, err := ColumnarRowSet(sliced, 1, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := &hiveserver.TRowSet{
		StartRowOffset: 2,
		Rows:           []*hiveserver.TRow{},
		Columns: []*hiveserver.TColumn{
			{I64Val: &hiveserver.TI64Column{Values: []int64{0, 4}, Nulls: bitmap(2, 0)}},
			strCol(bitmap(2), "three", "four"),
			strCol(bitmap(2, 0), "", `["b","c"]`),
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ColumnarRowSet\n got %s\nwant %s", got, want)
	}

	rows, err := RowBasedRowSet(sliced, 1, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []*hiveserver.TRow{
		{ColVals: []*hiveserver.TColumnValue{
			{I64Val: &hiveserver.TI64Value{}},
			{StringVal: &hiveserver.TStringValue{Value: ptr("three")}},
			{StringVal: &hiveserver.TStringValue{}},
		}},
		{ColVals: []*hiveserver.TColumnValue{
			{I64Val: &hiveserver.TI64Value{Value: ptr(int64(4))}},
			{StringVal: &hiveserver.TStringValue{Value: ptr("four")}},
			{StringVal: &hiveserver.TStringValue{Value: ptr(`["b","c"]`)}},
		}},
	}
	if !reflect.DeepEqual(rows.Rows, wantRows) || rows.Columns != nil || rows.StartRowOffset != 2 {
		t.Errorf("RowBasedRowSet\n got %s\nwant rows %s", rows, wantRows)
	}
}

func TestRowSetRange(t *testing.T) {
	mem := checkedAlloc(t)
	rec := oneColumn(fromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[1, 2, 3]`))
	defer rec.Release()
	for _, r := range [][2]int{{-1, 1}, {0, -1}, {0, 4}, {3, 1}, {4, 0}} {
		if _, err := ColumnarRowSet(rec, r[0], r[1], 0); err == nil {
			t.Errorf("ColumnarRowSet(%d, %d) succeeded on 3 rows", r[0], r[1])
		}
		if _, err := RowBasedRowSet(rec, r[0], r[1], 0); err == nil {
			t.Errorf("RowBasedRowSet(%d, %d) succeeded on 3 rows", r[0], r[1])
		}
	}
}

func TestRowSetUnsupportedType(t *testing.T) {
	mem := checkedAlloc(t)
	rec := oneColumn(fromJSON(t, mem, arrow.ListOf(arrow.PrimitiveTypes.Uint8), `[[1]]`))
	defer rec.Release()
	if _, err := ColumnarRowSet(rec, 0, 1, 0); err == nil {
		t.Error("ColumnarRowSet accepted list<uint8>")
	}
	if _, err := RowBasedRowSet(rec, 0, 1, 0); err == nil {
		t.Error("RowBasedRowSet accepted list<uint8>")
	}
}

// TestEmptyRowSet checks that an empty row set built from a schema has the
// same column kinds as a row set built from a record of that schema.
func TestEmptyRowSet(t *testing.T) {
	for _, tc := range columnCases {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			rec := oneColumn(fromJSON(t, mem, tc.dt, `[]`))
			defer rec.Release()
			schema, err := TableSchema(rec.Schema())
			if err != nil {
				t.Fatal(err)
			}
			fromRecord, err := ColumnarRowSet(rec, 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := EmptyRowSet(schema, true); !reflect.DeepEqual(got, fromRecord) {
				t.Errorf("EmptyRowSet(columnar)\n got %s\nwant %s", got, fromRecord)
			}
			fromRecord, err = RowBasedRowSet(rec, 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := EmptyRowSet(schema, false); !reflect.DeepEqual(got, fromRecord) {
				t.Errorf("EmptyRowSet(row-based)\n got %s\nwant %s", got, fromRecord)
			}
		})
	}
	if got := EmptyRowSet(nil, true); len(got.Columns) != 0 || got.Rows == nil {
		t.Errorf("EmptyRowSet(nil) = %s", got)
	}
}

// BenchmarkColumnarRowSet encodes 10,000 rows of five bigint and five string
// columns, a typical fetch.
func BenchmarkColumnarRowSet(b *testing.B) {
	const rows = 10_000
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	rec := benchRecord(b, mem, rows)
	defer rec.Release()

	b.ReportAllocs()
	for b.Loop() {
		if _, err := ColumnarRowSet(rec, 0, rows, 0); err != nil {
			b.Fatal(err)
		}
	}
}
